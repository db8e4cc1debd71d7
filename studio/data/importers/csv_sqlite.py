"""CSV of `database,question,sql` rows plus a folder of SQLite databases (the SpiderMan form).

`--path` is one CSV or a folder of them; each CSV becomes one dataset, its split named
after the file (train_queries.csv -> NAME_train). Databases: `--db-dir` (holding
<db>.sqlite or <db>/<db>.sqlite), `--mysql-url`, or else a `sqlite.tar.xz` beside the
CSVs, unpacked once into `<workspace>/databases/<name>/`.
"""

from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from studio.data.descriptions import decode_text
from studio.data.importers.common import (
    ImportOptions,
    database_refs,
    dataset_name,
    introspect_all,
    register_records,
    require_databases,
    text,
)
from studio.data.registry import DatasetInfo
from studio.data.sft_rows import SourceRecord
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.workspace import Workspace

REQUIRED_COLUMNS = ("database", "question", "sql")
ARCHIVE_NAME = "sqlite.tar.xz"


def import_csv(ws: Workspace, path: Path, options: ImportOptions) -> list[DatasetInfo]:
    """Register one SFT dataset per CSV at `path`."""
    files = _csv_files(path)
    folder = path if path.is_dir() else path.parent
    base = options.name or (folder.name if path.is_dir() else path.stem)
    db_folders = _database_folders(ws, folder, base, options)
    datasets = []
    for file in files:
        split = _split_name(file) if len(files) > 1 or path.is_dir() else None
        records = _read_records(file, split)
        refs = database_refs(sorted({r.db_id for r in records}), options, db_folders)
        require_databases(refs, db_folders, file)
        schemas = introspect_all(refs, options.sample_values, options.progress)
        dialect = "mysql" if options.mysql_url else "sqlite"
        datasets.append(register_records(ws, dataset_name(base, split), records, schemas, refs, dialect, options,
                                         "csv", file))
    return datasets


def _csv_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.csv")) if path.is_dir() else []
    if not files:
        raise StudioError(f"no CSV of database,question,sql found at {path}; pass a .csv file or its folder")
    return files


def _split_name(file: Path) -> str:
    stem = file.stem.lower()
    for suffix in ("_queries", "_questions", "_set"):
        stem = stem.removesuffix(suffix)
    return stem


def _database_folders(ws: Workspace, folder: Path, base: str, options: ImportOptions) -> list[Path]:
    if options.db_dir:
        if not options.db_dir.is_dir():
            raise StudioError(f"--db-dir {options.db_dir} is not a folder; pass the folder of .sqlite files")
        return [options.db_dir]
    archive = folder / ARCHIVE_NAME
    if options.mysql_url or not archive.is_file():
        return [folder]
    target = ws.root / "databases" / dataset_name(base, None)
    if not target.is_dir():
        _unpack(archive, target)
    return [target, target / "sqlite"]


def _unpack(archive: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(partial, filter="data")
    partial.rename(target)


def _read_records(file: Path, split: str | None) -> list[SourceRecord]:
    reader = csv.DictReader(io.StringIO(decode_text(file.read_bytes()), newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise StudioError(f"{file}: the header lacks {', '.join(missing)} (found: {', '.join(header) or 'nothing'}); "
                          "the first row must name the columns database,question,sql")
    records = []
    for line, row in enumerate(reader, start=2):
        cells = {(key or "").strip().lower(): value for key, value in row.items()}
        db_id, question, sql = (text(cells.get(name)) for name in REQUIRED_COLUMNS)
        if not (db_id or question or sql):
            continue  # blank line
        if not (db_id and question and sql):
            raise StudioError(f"{file}: line {line} lacks a database, question or sql value; fill or delete it")
        question_id = f"{split}_{line - 1}" if split else line - 1
        records.append(SourceRecord(question_id=question_id, db_id=db_id, question=question, sql=sql,
                                    difficulty=text(cells.get("difficulty"))))
    return records
