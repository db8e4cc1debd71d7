"""Existing Alpaca SFT data: a JSON array or JSON lines of `instruction, input, output`
(+ `system`).

Registered as it is (rows keep every key; a missing `input` or `system` becomes ""),
after validation. Rows that carry `db_id` get database references from --db-dir or
--mysql-url, so the dataset can be evaluated by execution.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.data.importers.common import (
    ImportOptions,
    check_import_names,
    dataset_name,
    user_rows_dataset,
)
from studio.data.registry import DatasetInfo, register_datasets

if TYPE_CHECKING:
    from studio.workspace import Workspace

KEYS = ("instruction", "input", "output", "system")


def import_alpaca(ws: Workspace, path: Path, options: ImportOptions) -> list[DatasetInfo]:
    """Register the Alpaca file at `path` as one SFT dataset."""
    name = dataset_name(options, path.stem)
    check_import_names(ws, [name], options)
    dataset = user_rows_dataset(name, path, "sft", KEYS, "alpaca", options)
    return register_datasets(ws, [dataset], options.replace)
