"""BIRD layout: question files plus databases, descriptions and a Spider-style tables file.

    <root>/<split>.json                 [{question_id, db_id, question, evidence, SQL, difficulty}]
    <root>/<split>_tables.json          Spider-style schema (optional when databases exist)
    <db folder>/<db_id>/<db_id>.sqlite  the databases (optional); db folders: --db-dir, <root>,
                                        <root>/*_databases
    <db folder>/<db_id>/database_description/<table>.csv   column descriptions (optional)

Without database files the prompts are built from the tables file and descriptions, as for
BIRD mini-dev. The dialect comes from the file name (mini_dev_mysql.json -> MySQL), else
SQLite; MySQL databases are reached with --mysql-url.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.data.descriptions import apply_descriptions, read_bird_descriptions
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

DIALECT_HINTS = (("mysql", "mysql"), ("postgres", "postgresql"), ("sqlite", "sqlite"))


def import_bird(ws: Workspace, path: Path, options: ImportOptions) -> list[DatasetInfo]:
    """Register one SFT dataset per BIRD question file at `path` (a file, or every one in a
    folder)."""
    files = _question_files(path)
    default = path.stem if path.is_file() else path.name
    splits = [None if len(files) == 1 else file.stem for file in files]
    names = [dataset_name(options, default, split) for split in splits]
    check_import_names(ws, names, options)
    datasets = [_file_dataset(file, name, options) for file, name in zip(files, names, strict=True)]
    return register_datasets(ws, datasets, options.replace)


def _question_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise StudioError(
            f"BIRD data not found at {path}; pass a question file (dev.json) or its folder"
        )
    files = [
        f
        for f in sorted(path.glob("*.json"))
        if not f.stem.endswith("tables") and _is_question_file(f)
    ]
    if not files:
        raise StudioError(
            f"{path} holds no BIRD question file (*.json rows with question, SQL and db_id)"
        )
    return files


def _is_question_file(path: Path) -> bool:
    with path.open(encoding="utf-8-sig") as handle:
        head = handle.read(4096)
    return head.lstrip().startswith("[") and '"question"' in head and '"db_id"' in head


def _file_dataset(file: Path, name: ImportName, options: ImportOptions) -> NewDataset:
    dialect = _dialect_of(file)
    if options.mysql_url and dialect != "mysql":
        raise StudioError(
            f"{file} holds {dialect} SQL, so its databases cannot be the MySQL ones "
            "at --mysql-url; import the MySQL question file (e.g. mini_dev_mysql.json) "
            "or drop --mysql-url"
        )
    records = [_record(file, i, row) for i, row in enumerate(_read_questions(file))]
    db_ids = sorted({r.db_id for r in records})
    folders = (
        [options.db_dir]
        if options.db_dir
        else [file.parent, *sorted(file.parent.glob("*_databases"))]
    )
    folders = [folder for folder in folders if folder.is_dir()]
    if dialect == "sqlite" or options.mysql_url:
        refs = database_refs(db_ids, options, folders)
    else:
        refs = dict.fromkeys(db_ids)  # no SQLite file can run this dialect's SQL
    schemas = load_schemas(refs, _tables_files(file), dialect, options, folders, file)
    for db_id, schema in schemas.items():
        folder = next((f / db_id for f in folders if (f / db_id).is_dir()), None)
        if folder is not None:
            apply_descriptions(schema, read_bird_descriptions(folder))
    return records_dataset(name, records, schemas, refs, dialect, options, "bird", file)


def _dialect_of(file: Path) -> str:
    stem = file.stem.lower()
    return next((dialect for hint, dialect in DIALECT_HINTS if hint in stem), "sqlite")


def _read_questions(file: Path) -> list[dict[str, Any]]:
    return read_json(file, list, "expected a JSON array of questions")


def _record(file: Path, index: int, row: Any) -> SourceRecord:
    sql = (
        text(row.get("SQL") or row.get("sql") or row.get("query"))
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
            f"{file}: question {index} lacks question, db_id or SQL; "
            "every BIRD row needs all three (fix or remove the row)"
        )
    return SourceRecord(
        question_id=row.get("question_id", index),
        db_id=str(row["db_id"]).strip(),
        question=str(row["question"]).strip(),
        sql=sql,
        evidence=text(row.get("evidence")),
        difficulty=text(row.get("difficulty")),
    )


def _tables_files(file: Path) -> list[Path]:
    """`<stem>_tables.json` first, then any other `*tables.json` beside the question file."""
    exact = file.with_name(f"{file.stem}_tables.json")
    others = [p for p in sorted(file.parent.glob("*tables.json")) if p != exact]
    return ([exact] if exact.is_file() else []) + others
