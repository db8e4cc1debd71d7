"""Existing preference data: JSON lines (or a JSON array) of `instruction, input, chosen, rejected`.

Registered as it is with `ranking: true` (rows keep every key; a missing `input` or
`system` becomes ""), after validation; `db_id` rows get database references as for Alpaca.
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

KEYS = ("instruction", "input", "chosen", "rejected", "system")


def import_pairs(ws: Workspace, path: Path, options: ImportOptions) -> list[DatasetInfo]:
    """Register the preference file at `path` as one preference dataset."""
    name = dataset_name(options, path.stem)
    check_import_names(ws, [name], options)
    dataset = user_rows_dataset(name, path, "preference", KEYS, "pairs", options)
    return register_datasets(ws, [dataset], options.replace)
