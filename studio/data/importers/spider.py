"""Spider layout: question files of rows (db_id, question, query), `tables.json`
(`test_tables.json`) and `database/<db>/<db>.sqlite` (`test_database/`). Databases are
introspected (with sample values); a database that is absent is described from tables.json
instead.

--path is the folder or one question file of any name (Spider variants are published as one
JSON file each; its tables.json and database/ are looked for beside it). A folder gives one
dataset per split: NAME_train (all train*.json files), NAME_dev, NAME_test, and NAME_<stem>
for every other question file in it.
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
    """Register one SFT dataset per split found at `path` (a Spider folder or question file)."""
    if path.is_file():
        root = path.parent
        splits = {path.stem: [path]}
        names = {path.stem: dataset_name(options, path.stem)}
    elif path.is_dir():
        root = path
        splits = _folder_splits(path)
        names = {split: dataset_name(options, path.name, split) for split in splits}
    else:
        raise StudioError(
            f"Spider data not found at {path}; pass the folder holding dev.json and tables.json, "
            "or one question file"
        )
    check_import_names(ws, list(names.values()), options)
    datasets = [
        _split_dataset(root, split, files, names[split], options) for split, files in splits.items()
    ]
    return register_datasets(ws, datasets, options.replace)


def _folder_splits(path: Path) -> dict[str, list[Path]]:
    """Split -> question files: the standard splits, then every other question file by stem."""
    found = {
        split: sorted(f for f in path.glob(pattern) if not f.stem.endswith("tables"))
        for split, pattern in SPLITS.items()
    }
    splits = {split: files for split, files in found.items() if files}
    known = {file for files in splits.values() for file in files}
    for file in sorted(path.glob("*.json")):
        if file not in known and not file.stem.endswith("tables") and _is_question_file(file):
            splits[file.stem] = [file]
    if not splits:
        raise StudioError(
            f"{path} holds no Spider question file (train*.json, dev.json, test.json, or any "
            "JSON array of rows with db_id, question and query)"
        )
    return splits


def _is_question_file(path: Path) -> bool:
    """True for a JSON array whose first rows carry db_id and question (read from its head)."""
    with path.open(encoding="utf-8-sig") as handle:
        head = handle.read(4096)
    return head.lstrip().startswith("[") and '"question"' in head and '"db_id"' in head


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
