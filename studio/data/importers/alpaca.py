"""Existing Alpaca SFT data: a JSON array or JSON lines of `instruction, input, output` (+ `system`).

Registered as it is (rows keep every key; a missing `input` or `system` becomes ""),
after validation. Rows that carry `db_id` get database references from --db-dir or
--mysql-url, so the dataset can be evaluated by execution.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.data.importers.common import ImportOptions, dataset_name, register_user_rows
from studio.data.registry import DatasetInfo

if TYPE_CHECKING:
    from studio.workspace import Workspace

KEYS = ("instruction", "input", "output", "system")


def import_alpaca(ws: Workspace, path: Path, options: ImportOptions) -> list[DatasetInfo]:
    """Register the Alpaca file at `path` as one SFT dataset."""
    name = dataset_name(options.name or path.stem, None)
    return [register_user_rows(ws, name, path, "sft", KEYS, "alpaca", options)]
