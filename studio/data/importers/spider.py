"""Spider layout: `train*.json` / `dev.json` / `test.json` rows (db_id, question, query),
`tables.json` (`test_tables.json`) and `database/<db>/<db>.sqlite` (`test_database/`).
Databases are introspected (with sample values); a database that is absent is described
from tables.json instead.

One dataset per split: NAME_train (all train*.json files), NAME_dev, NAME_test.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.data.importers.common import (
    ImportName,
    ImportOptions,
    check_import_names,
    database_refs,
    dataset_name,
    load_schemas,
    records_dataset,
    text,
)
from studio.data.registry import DatasetInfo, NewDataset, register_datasets
from studio.data.rowfiles import read_json
from studio.data.sft_rows import SourceRecord
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.workspace import Workspace

SPLITS = {"train": "train*.json", "dev": "dev.json", "test": "test.json"}


def import_spider(ws: Workspace, path: Path, options: ImportOptions) -> list[DatasetInfo]:
    """Register one SFT dataset per split found in the Spider folder `path`."""
    if not path.is_dir():
        raise StudioError(
            f"Spider folder not found at {path}; pass the folder holding dev.json and tables.json"
        )
    found = {
        split: sorted(f for f in path.glob(pattern) if not f.stem.endswith("tables"))
        for split, pattern in SPLITS.items()
    }
    splits = {split: files for split, files in found.items() if files}
    if not splits:
        raise StudioError(f"{path} holds no Spider split (train*.json, dev.json or test.json)")
    names = {split: dataset_name(options, path.name, split) for split in splits}
    check_import_names(ws, list(names.values()), options)
    datasets = [
        _split_dataset(path, split, files, names[split], options) for split, files in splits.items()
    ]
    return register_datasets(ws, datasets, options.replace)


def _split_dataset(
    root: Path, split: str, files: list[Path], name: ImportName, options: ImportOptions
) -> NewDataset:
    records = [
        _record(file, split, i, row) for file in files for i, row in enumerate(_read_rows(file))
    ]
    prefix = "test_" if split == "test" and (root / "test_tables.json").is_file() else ""
    folders = (
        [options.db_dir] if options.db_dir else [root / f"{prefix}database", root / "database"]
    )
    folders = [folder for folder in folders if folder.is_dir()]
    refs = database_refs(sorted({r.db_id for r in records}), options, folders)
    dialect = "mysql" if options.mysql_url else "sqlite"
    tables_files = [f for f in (root / f"{prefix}tables.json", root / "tables.json") if f.is_file()]
    schemas = load_schemas(
        refs, list(dict.fromkeys(tables_files)), dialect, options, folders, files[0]
    )
    return records_dataset(name, records, schemas, refs, dialect, options, "spider", files[0])


def _read_rows(file: Path) -> list[dict[str, Any]]:
    return read_json(file, list, "expected a JSON array of questions")


def _record(file: Path, split: str, index: int, row: Any) -> SourceRecord:
    sql = (
        text(row.get("query") or row.get("sql") or row.get("SQL"))
        if isinstance(row, dict)
        else None
    )
    if (
        not isinstance(row, dict)
        or not text(row.get("question"))
        or not text(row.get("db_id"))
        or not sql
    ):
        raise StudioError(
            f"{file}: row {index} lacks db_id, question or query; fix or remove the row"
        )
    return SourceRecord(
        question_id=row.get("question_id", f"{file.stem}_{index}"),
        db_id=str(row["db_id"]).strip(),
        question=str(row["question"]).strip(),
        sql=sql,
        difficulty=text(row.get("difficulty") or row.get("hardness")),
    )
