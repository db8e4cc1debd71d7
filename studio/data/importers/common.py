"""What every text-to-SQL importer shares: options, names, locating databases, introspection,
and the datasets they register.

An importer checks its dataset names first (before any slow work), builds every dataset, and
registers them all at once at the end (`register_datasets`): a failure leaves the workspace
as it was."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

from tqdm import tqdm

from studio.data.budget import TokenBudget
from studio.data.clashes import NameClaim
from studio.data.names import checked_name, name_from
from studio.data.registry import DatasetMeta, NewDataset, check_names_free, registry_entry
from studio.data.rowfiles import RowFileError, read_rows
from studio.data.sft_rows import SourceRecord, build_sft_rows
from studio.data.spider_tables import read_tables_json
from studio.data.validate import format_problems, validate_entry
from studio.errors import StudioError
from studio.sql.introspect import introspect
from studio.sql.schema import Schema

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from studio.workspace import Workspace

SQLITE_SUFFIXES = (".sqlite", ".db", ".sqlite3")


@dataclass(frozen=True)
class ImportOptions:
    """How to import: dataset name, where the databases are, prompt style and token budget.

    `cutoff_len` needs `tokenizer` (the model's, for its chat template); None skips the budget.
    `mysql_url` names a server holding one database per db_id (its own database part is replaced).
    `replace` lets the import replace datasets of the same names.
    """

    name: str | None = None
    replace: bool = False
    db_dir: Path | None = None
    mysql_url: str | None = None
    schema_style: str = "ddl"
    cutoff_len: int | None = None
    tokenizer: PreTrainedTokenizerBase | None = None
    tokenizer_ref: str | None = None
    sample_values: int = 3
    progress: bool = False

    def budget(self) -> TokenBudget | None:
        if not self.cutoff_len:
            return None
        if self.tokenizer is None:
            raise StudioError(
                "a token budget (cutoff_len) needs the model's tokenizer; pass --model"
            )
        return TokenBudget(self.tokenizer, self.cutoff_len)


class ImportName(NamedTuple):
    """An imported dataset's name and the text it was made from (None when used as given)."""

    name: str
    made_from: str | None


def dataset_name(options: ImportOptions, default: str, split: str | None = None) -> ImportName:
    """The name of an imported dataset (see ImportName).

    The base is --name exactly as given (a StudioError when it is not allowed), else a name
    made from `default`, a file or folder name (studio.data.names); a split adds `_SPLIT`.
    """
    base = checked_name(options.name) if options.name is not None else name_from(default)
    name = f"{base}_{name_from(split)}" if split else base
    given = f"{options.name or default}_{split}" if split else options.name or default
    return ImportName(name, given if given != name else None)


def check_import_names(ws: Workspace, names: Sequence[ImportName], options: ImportOptions) -> None:
    """A StudioError naming every clash of the names an import will register (nothing written)."""
    check_names_free(ws, [NameClaim.of(*name) for name in names], options.replace)


def find_sqlite(db_id: str, folders: Sequence[Path]) -> Path | None:
    """`<folder>/<db_id>.sqlite` or `<folder>/<db_id>/<db_id>.sqlite` (.db, .sqlite3 too) in the
    first folder holding it."""
    for folder in folders:
        for suffix in SQLITE_SUFFIXES:
            for candidate in (folder / f"{db_id}{suffix}", folder / db_id / f"{db_id}{suffix}"):
                if candidate.is_file():
                    return candidate.resolve()
    return None


def mysql_database_url(server_url: str, db_id: str) -> str:
    """`server_url` with its database replaced by `db_id` (user, password, host and port kept)."""
    parts = urlsplit(server_url)
    if not parts.scheme:
        raise StudioError(
            f"--mysql-url {server_url!r} is not a URL; write mysql://user:pass@host:3306/any"
        )
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(db_id), "", ""))


def database_refs(
    db_ids: Sequence[str], options: ImportOptions, folders: Sequence[Path]
) -> dict[str, str | None]:
    """db_id -> SQLite path or MySQL URL (None where no database was found)."""
    if options.mysql_url:
        return {db_id: mysql_database_url(options.mysql_url, db_id) for db_id in db_ids}
    refs = {}
    for db_id in db_ids:
        path = find_sqlite(db_id, folders)
        refs[db_id] = str(path) if path else None
    return refs


def require_databases(
    refs: Mapping[str, str | None], folders: Sequence[Path], source: Path
) -> None:
    """A StudioError naming the db_ids without a database file and where they were looked for."""
    missing = sorted(db_id for db_id, ref in refs.items() if ref is None)
    if missing:
        raise StudioError(
            f"{source}: no SQLite database for {_some(missing)} (looked in "
            f"{_folders(folders)} for <db_id>.sqlite or <db_id>/<db_id>.sqlite); pass --db-dir "
            "with the database folder, or --mysql-url for databases on a MySQL server"
        )


def load_schemas(
    refs: Mapping[str, str | None],
    tables_files: Sequence[Path],
    dialect: str,
    options: ImportOptions,
    folders: Sequence[Path],
    source: Path,
) -> dict[str, Schema]:
    """db_id -> Schema: introspected where a database exists, else from the first tables file
    describing it."""
    schemas = introspect_all(
        {db_id: ref for db_id, ref in refs.items() if ref}, options.sample_values, options.progress
    )
    for tables_file in tables_files:
        missing = [db_id for db_id in refs if db_id not in schemas]
        if not missing:
            break
        described = read_tables_json(tables_file, dialect)
        schemas.update({db_id: described[db_id] for db_id in missing if db_id in described})
    missing = sorted(db_id for db_id in refs if db_id not in schemas)
    if missing:
        looked = ", ".join(str(p) for p in tables_files) or "no tables file found"
        raise StudioError(
            f"{source}: no database and no schema for {_some(missing)} (databases looked for in "
            f"{_folders(folders)}; schemas in {looked}); pass --db-dir with <db_id>/<db_id>.sqlite "
            "files, or put a Spider-style tables.json describing them beside the questions"
        )
    return schemas


def _some(names: Sequence[str]) -> str:
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _folders(folders: Sequence[Path]) -> str:
    return ", ".join(str(folder) for folder in folders) or "no folder"


def introspect_all(
    refs: Mapping[str, str], sample_values: int, progress: bool
) -> dict[str, Schema]:
    """db_id -> Schema, introspecting each database once."""
    schemas = {}
    for db_id, ref in tqdm(
        sorted(refs.items()), desc="reading schemas", unit="db", disable=not progress or not refs
    ):
        schema = introspect(ref, sample_values=sample_values)
        schema.database = db_id
        schemas[db_id] = schema
    return schemas


def records_dataset(
    name: ImportName,
    records: Sequence[SourceRecord],
    schemas: Mapping[str, Schema],
    refs: Mapping[str, str | None],
    dialect: str,
    options: ImportOptions,
    source_format: str,
    source_path: Path,
) -> NewDataset:
    """The SFT dataset `name` holding the prompts of `records`."""
    if not records:
        raise StudioError(f"{source_path}: no questions to import for dataset '{name.name}'")
    budget = options.budget()
    result = build_sft_rows(
        records, schemas, dialect, options.schema_style, budget, options.progress
    )
    if not result.rows:
        raise StudioError(
            f"{source_path}: none of the {len(records)} prompts fits "
            f"cutoff_len={options.cutoff_len} even with the schema shrunk to the tables the SQL "
            "uses; raise --cutoff-len"
        )
    used = sorted({record.db_id for record in records})
    meta = DatasetMeta(
        dialect=dialect,
        databases={db_id: refs.get(db_id) for db_id in used},
        schema_style=options.schema_style,
        cutoff_len=options.cutoff_len,
        source_format=source_format,
        source_path=str(source_path.resolve()),
        shrunk=result.shrunk,
        shrunk_by_stage=result.shrunk_by_stage,
        over_budget=len(result.over_budget),
        tokenizer=options.tokenizer_ref if budget else None,
    )
    return NewDataset(name.name, result.rows, "sft", meta, made_from=name.made_from)


def user_rows_dataset(
    name: ImportName,
    path: Path,
    kind: str,
    keys: Sequence[str],
    source_format: str,
    options: ImportOptions,
) -> NewDataset:
    """A user's own rows as they are (`input`/`system` default to "", other keys kept), as
    dataset `name`."""
    try:
        rows = read_rows(path)
    except RowFileError as error:
        raise StudioError(f"{error}; correct the file there") from None
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise StudioError(
                f"{path}: row {index} is not a JSON object; write each row as "
                f"{{{', '.join(repr(k) for k in keys)}}}"
            )
        for optional in ("input", "system"):
            row.setdefault(optional, "")
    entry = {**registry_entry(name.name, kind), "file_name": path.name}
    problems = validate_entry(path.parent, name.name, entry, rows=rows)
    if problems:
        raise StudioError(f"{path} was not imported:\n{format_problems(problems)}")
    db_ids = sorted({str(row["db_id"]) for row in rows if row.get("db_id")})
    refs = (
        database_refs(db_ids, options, [options.db_dir])
        if options.db_dir or options.mysql_url
        else {}
    )
    dialect = "mysql" if options.mysql_url else "sqlite" if options.db_dir else None
    meta = DatasetMeta(
        dialect=dialect,
        databases=refs,
        source_format=source_format,
        source_path=str(path.resolve()),
    )
    return NewDataset(name.name, rows, kind, meta, made_from=name.made_from)


def text(value: Any) -> str | None:
    """A stripped string, or None for missing/blank values."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None
