"""Importers: one module per source format, each registering datasets with database references.

    bird    BIRD layout (question files, databases or tables.json, description CSVs)
    spider  Spider layout (question files of any name, tables.json, database/)
    csv     CSV of database,question,sql plus SQLite files (SpiderMan)
    alpaca  existing Alpaca JSON/JSONL
    pairs   existing preference JSONL (instruction, input, chosen, rejected)

Modules are imported on use, so opening a workspace stays cheap.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.data.importers.common import ImportOptions
    from studio.data.registry import DatasetInfo
    from studio.workspace import Workspace

# format -> (module, function)
IMPORTERS = {
    "bird": ("bird", "import_bird"),
    "spider": ("spider", "import_spider"),
    "csv": ("csv_sqlite", "import_csv"),
    "alpaca": ("alpaca", "import_alpaca"),
    "pairs": ("pairs", "import_pairs"),
}
PROMPT_BUILDING_FORMATS = ("bird", "spider", "csv")
DEFAULT_CUTOFF_LEN = 2048  # the token budget of prompt + answer; LLaMA-Factory's default


def import_dataset(
    ws: Workspace, fmt: str, path: Path, options: ImportOptions
) -> list[DatasetInfo]:
    """Import `path` in format `fmt`; returns the datasets registered (one per split)."""
    if fmt not in IMPORTERS:
        raise StudioError(f"unknown import format {fmt!r}; use one of {', '.join(IMPORTERS)}")
    if not path.exists():
        raise StudioError(f"--path {path} does not exist")
    module_name, function_name = IMPORTERS[fmt]
    module = importlib.import_module(f"studio.data.importers.{module_name}")
    return getattr(module, function_name)(ws, path, options)
