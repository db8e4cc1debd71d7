"""The dataset registry: LLaMA-Factory's `dataset_info.json` plus the studio's sidecar.

    <workspace>/dataset_info.json     {"NAME": {"file_name": "datasets/NAME.json", "formatting": "alpaca",
                                                "columns": {...}, ["ranking": true]}}
    <workspace>/datasets/NAME.json    Alpaca rows (SFT) or instruction/input/chosen/rejected rows (preference)
    <workspace>/studio_datasets.json  per dataset: kind, dialect, database of every db_id, schema style,
                                      cutoff_len, source, row count, shrunk prompts

Both registry files are rewritten atomically under the workspace lock "dataset_info",
so several processes can register datasets at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.data.rowfiles import RowFileError, read_json, read_rows, write_rows_json
from studio.data.validate import DEFAULT_COLUMNS, SIDECAR_NAME, format_problems, validate_entry
from studio.errors import StudioError
from studio.fsutil import atomic_write_json

if TYPE_CHECKING:
    from studio.workspace import Workspace

KINDS = ("sft", "preference")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SFT_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}
PREFERENCE_COLUMNS = {"prompt": "instruction", "query": "input", "chosen": "chosen",
                      "rejected": "rejected", "system": "system"}
LOCK_NAME = "dataset_info"


@dataclass(frozen=True)
class DatasetMeta:
    """What the studio records beside a dataset (the sidecar), beyond LLaMA-Factory's entry."""

    dialect: str | None = None
    databases: dict[str, str | None] = field(default_factory=dict)
    schema_style: str | None = None
    cutoff_len: int | None = None
    source_format: str | None = None
    source_path: str | None = None
    shrunk: int = 0
    shrunk_by_stage: dict[str, int] = field(default_factory=dict)
    over_budget: int = 0
    tokenizer: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its LLaMA-Factory entry, file, row count and studio metadata."""

    name: str
    kind: str
    path: Path
    entry: dict[str, Any]
    rows: int | None
    meta: DatasetMeta | None

    @property
    def dialect(self) -> str | None:
        return self.meta.dialect if self.meta else None

    @property
    def databases(self) -> dict[str, str | None]:
        return dict(self.meta.databases) if self.meta else {}


@dataclass(frozen=True)
class Example:
    """One row, read through the entry's `columns`: what evaluation, pair mining and training use."""

    index: int
    system: str | None
    prompt: str
    response: str | None
    chosen: str | None
    rejected: str | None
    question_id: Any
    db_id: str | None
    question: str | None
    evidence: str | None
    difficulty: str | None
    gold_sql: str | None


def list_datasets(ws: Workspace) -> list[DatasetInfo]:
    """Every dataset in `dataset_info.json`, in file order (hand-added ones have meta None)."""
    info = _read_info(ws)
    sidecar = _read_sidecar(ws)
    return [_dataset_info(ws, name, entry, sidecar.get(name)) for name, entry in info.items()
            if isinstance(entry, dict)]


def get_dataset(ws: Workspace, name: str) -> DatasetInfo:
    """The dataset called `name`; a StudioError naming the registered ones when absent."""
    info = _read_info(ws)
    entry = info.get(name)
    if not isinstance(entry, dict):
        known = ", ".join(info) or "none"
        raise StudioError(f"no dataset '{name}' in {ws.dataset_info_path} (registered: {known}); "
                          "import one with `python -m studio data import`")
    return _dataset_info(ws, name, entry, _read_sidecar(ws).get(name))


def register_dataset(ws: Workspace, name: str, rows: list[dict[str, Any]], kind: str,
                     meta: DatasetMeta | Mapping[str, Any] | None = None) -> DatasetInfo:
    """Write `rows` to `datasets/NAME.json` and register it (replacing a dataset of that name).

    kind is "sft" (instruction/input/output/system rows) or "preference"
    (instruction/input/chosen/rejected/system rows). Rows are validated first; a
    StudioError lists the problems and nothing is written.
    """
    with ws.lock(LOCK_NAME):
        return register_dataset_unlocked(ws, name, rows, kind, meta)


def register_dataset_unlocked(ws: Workspace, name: str, rows: list[dict[str, Any]], kind: str,
                              meta: DatasetMeta | Mapping[str, Any] | None = None) -> DatasetInfo:
    """`register_dataset` for a caller that already holds `ws.lock("dataset_info")`."""
    if not NAME_PATTERN.match(name):
        raise StudioError(f"dataset name {name!r} is not allowed; use letters, digits, '_', '.' or '-'")
    if kind not in KINDS:
        raise StudioError(f"dataset kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    meta = meta if isinstance(meta, DatasetMeta) else DatasetMeta(**(meta or {}))
    entry = registry_entry(name, kind)
    problems = validate_entry(ws.root, name, entry, rows=rows)
    if problems:
        raise StudioError(f"dataset '{name}' was not registered:\n{format_problems(problems)}")
    write_rows_json(ws.root / entry["file_name"], rows)
    info = _read_info(ws)
    info[name] = entry
    atomic_write_json(ws.dataset_info_path, info)
    sidecar = _read_sidecar(ws)
    sidecar[name] = {"kind": kind, "rows": len(rows), **asdict(meta),
                     "registered_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(_sidecar_path(ws), sidecar)
    return _dataset_info(ws, name, entry, sidecar[name])


def unregister_dataset(ws: Workspace, name: str) -> None:
    """Remove `name` from the registry; its file is deleted when the studio wrote it."""
    with ws.lock(LOCK_NAME):
        info = _read_info(ws)
        if name not in info:
            known = ", ".join(info) or "none"
            raise StudioError(f"no dataset '{name}' in {ws.dataset_info_path} (registered: {known})")
        entry = info.pop(name)
        sidecar = _read_sidecar(ws)
        record = sidecar.pop(name, None)
        atomic_write_json(ws.dataset_info_path, info)
        atomic_write_json(_sidecar_path(ws), sidecar)
    if record is not None and isinstance(entry, dict) and entry.get("file_name") == f"datasets/{name}.json":
        (ws.root / entry["file_name"]).unlink(missing_ok=True)


def load_examples(ws: Workspace, name: str) -> list[Example]:
    """The rows of dataset `name` as Examples (read through its columns mapping)."""
    dataset = get_dataset(ws, name)
    try:
        rows = read_rows(dataset.path)
    except RowFileError as error:
        raise StudioError(f"dataset '{name}': {error}; run `python -m studio data validate`") from None
    columns = {**DEFAULT_COLUMNS, **dataset.entry.get("columns", {})}
    return [_example(i, row, columns, dataset.kind) for i, row in enumerate(rows)]


def database_ref(ws: Workspace, name: str, db_id: str) -> str | None:
    """The database (absolute SQLite path or mysql:// URL) of `db_id` in dataset `name`, or None."""
    record = _read_sidecar(ws).get(name) or {}
    return (record.get("databases") or {}).get(db_id)


def _example(index: int, row: dict[str, Any], columns: Mapping[str, str], kind: str) -> Example:
    def column(name: str) -> Any:
        key = columns.get(name)
        return row.get(key) if key else None

    prompt = column("prompt") or ""
    query = column("query")
    if query:
        prompt = f"{prompt}\n{query}"
    response = column("response") if kind == "sft" else None
    return Example(
        index=index,
        system=column("system"),
        prompt=prompt,
        response=response,
        chosen=column("chosen") if kind == "preference" else None,
        rejected=column("rejected") if kind == "preference" else None,
        question_id=row.get("question_id"),
        db_id=row.get("db_id"),
        question=row.get("question"),
        evidence=row.get("evidence"),
        difficulty=row.get("difficulty"),
        gold_sql=row.get("gold_sql") or response,
    )


def registry_entry(name: str, kind: str) -> dict[str, Any]:
    """The dataset_info.json entry the studio writes for dataset `name` of `kind`."""
    entry: dict[str, Any] = {"file_name": f"datasets/{name}.json", "formatting": "alpaca"}
    if kind == "preference":
        entry["ranking"] = True
        entry["columns"] = dict(PREFERENCE_COLUMNS)
    else:
        entry["columns"] = dict(SFT_COLUMNS)
    return entry


def _dataset_info(ws: Workspace, name: str, entry: dict[str, Any],
                  record: Mapping[str, Any] | None) -> DatasetInfo:
    meta = None
    if record is not None:
        fields = DatasetMeta.__dataclass_fields__
        meta = DatasetMeta(**{key: value for key, value in record.items() if key in fields})
    return DatasetInfo(
        name=name,
        kind="preference" if entry.get("ranking") else "sft",
        path=ws.root / str(entry.get("file_name", "")),
        entry=entry,
        rows=record.get("rows") if record else None,
        meta=meta,
    )


def _read_info(ws: Workspace) -> dict[str, Any]:
    return _read_json_object(ws.dataset_info_path)


def _read_sidecar(ws: Workspace) -> dict[str, Any]:
    return _read_json_object(_sidecar_path(ws))


def _sidecar_path(ws: Workspace) -> Path:
    return ws.root / SIDECAR_NAME


def _read_json_object(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    return read_json(path, dict, "the top level must be a JSON object mapping dataset names to entries",
                     fix="correct it, then run `python -m studio data validate`")
