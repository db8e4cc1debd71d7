"""CSV of `database,question,sql` rows plus a folder of SQLite databases (the SpiderMan form).

`--path` is one CSV or a folder of them; each CSV becomes one dataset, its split named
after the file (train_queries.csv -> NAME_train). Databases: `--db-dir` (holding
<db>.sqlite or <db>/<db>.sqlite), `--mysql-url`, or else a `sqlite.tar.xz` beside the
CSVs, unpacked once into `<workspace>/databases/<name>/` (which records the archive it came
from: a different archive is never mixed in, and the folder goes again if the import fails).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from studio.data.descriptions import decode_text
from studio.data.importers.common import (
    ImportOptions,
    check_import_names,
    database_refs,
    dataset_name,
    introspect_all,
    records_dataset,
    require_databases,
    text,
)
from studio.data.registry import DatasetInfo, register_datasets
from studio.data.rowfiles import read_json
from studio.data.sft_rows import SourceRecord
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.workspace import Workspace

REQUIRED_COLUMNS = ("database", "question", "sql")
ARCHIVE_NAME = "sqlite.tar.xz"
SOURCE_FILE = ".unpacked_from.json"


def import_csv(ws: Workspace, path: Path, options: ImportOptions) -> list[DatasetInfo]:
    """Register one SFT dataset per CSV at `path`."""
    files = _csv_files(path)
    folder = path if path.is_dir() else path.parent
    default = folder.name if path.is_dir() else path.stem
    splits = [_split_name(file) if len(files) > 1 or path.is_dir() else None for file in files]
    names = [dataset_name(options, default, split) for split in splits]
    check_import_names(ws, names, options)
    records = [_read_records(file, split) for file, split in zip(files, splits, strict=True)]
    dialect = "mysql" if options.mysql_url else "sqlite"
    unpacked = ws.root / "databases" / dataset_name(options, default).name
    with _removed_if_failed(unpacked):
        db_folders = _database_folders(folder, unpacked, options)
        datasets = []
        for file, name, file_records in zip(files, names, records, strict=True):
            refs = database_refs(sorted({r.db_id for r in file_records}), options, db_folders)
            require_databases(refs, db_folders, file)
            schemas = introspect_all(refs, options.sample_values, options.progress)
            datasets.append(
                records_dataset(name, file_records, schemas, refs, dialect, options, "csv", file)
            )
        return register_datasets(ws, datasets, options.replace)


@contextlib.contextmanager
def _removed_if_failed(folder: Path) -> Iterator[None]:
    """Delete `folder` when the block fails and the folder did not exist before it."""
    existed = folder.exists()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _csv_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.csv")) if path.is_dir() else []
    if not files:
        raise StudioError(
            f"no CSV of database,question,sql found at {path}; pass a .csv file or its folder"
        )
    return files


def _split_name(file: Path) -> str:
    stem = file.stem.lower()
    for suffix in ("_queries", "_questions", "_set"):
        stem = stem.removesuffix(suffix)
    return stem


def _database_folders(folder: Path, unpacked: Path, options: ImportOptions) -> list[Path]:
    """Where the databases are: --db-dir, the CSV folder, or `unpacked` (from the archive
    beside the CSVs)."""
    if options.db_dir:
        if not options.db_dir.is_dir():
            raise StudioError(
                f"--db-dir {options.db_dir} is not a folder; pass the folder of .sqlite files"
            )
        return [options.db_dir]
    archive = folder / ARCHIVE_NAME
    if options.mysql_url or not archive.is_file():
        return [folder]
    if unpacked.is_dir():
        _check_same_archive(unpacked, archive)
    else:
        _unpack(archive, unpacked)
    return [unpacked, unpacked / "sqlite"]


def _archive_identity(archive: Path) -> dict[str, object]:
    return {"archive": str(archive.resolve()), "bytes": archive.stat().st_size}


def _check_same_archive(unpacked: Path, archive: Path) -> None:
    """A StudioError when `unpacked` holds the databases of another archive (older folders
    record none and are used as they are)."""
    source = unpacked / SOURCE_FILE
    if not source.is_file():
        return
    recorded = read_json(
        source,
        dict,
        "expected the archive it was unpacked from",
        fix=f"delete {unpacked} to unpack the archive again",
    )
    if recorded != _archive_identity(archive):
        raise StudioError(
            f"{unpacked} holds the databases of {recorded.get('archive')}, not of "
            f"{archive}; import with another --name so each archive keeps its own "
            "folder"
        )


def _unpack(archive: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")
        source = json.dumps(_archive_identity(archive)) + "\n"
        (partial / SOURCE_FILE).write_text(source, encoding="utf-8")
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _read_records(file: Path, split: str | None) -> list[SourceRecord]:
    reader = csv.DictReader(io.StringIO(decode_text(file.read_bytes()), newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise StudioError(
            f"{file}: the header lacks {', '.join(missing)} "
            f"(found: {', '.join(header) or 'nothing'}); "
            "the first row must name the columns database,question,sql"
        )
    records = []
    for line, row in enumerate(reader, start=2):
        cells = {(key or "").strip().lower(): value for key, value in row.items()}
        db_id, question, sql = (text(cells.get(name)) for name in REQUIRED_COLUMNS)
        if not (db_id or question or sql):
            continue  # blank line
        if not (db_id and question and sql):
            raise StudioError(
                f"{file}: line {line} lacks a database, question or sql value; fill or delete it"
            )
        question_id = f"{split}_{line - 1}" if split else line - 1
        records.append(
            SourceRecord(
                question_id=question_id,
                db_id=db_id,
                question=question,
                sql=sql,
                difficulty=text(cells.get("difficulty")),
            )
        )
    return records
