"""The dataset registry: LLaMA-Factory's `dataset_info.json` plus the studio's sidecar.

    <workspace>/dataset_info.json     {"NAME": {"file_name": "datasets/NAME.json",
                                                "formatting": "alpaca", "columns": {...},
                                                ["ranking": true]}}
    <workspace>/datasets/NAME.json    Alpaca rows (SFT) or instruction/input/chosen/rejected
                                      rows (preference)
    <workspace>/studio_datasets.json  per dataset: kind, dialect, database of every db_id, schema
                                      style, cutoff_len, source, row count, shrunk prompts,
                                      companion files

The studio writes alpaca entries; entries added by hand may be any local LLaMA-Factory entry
(alpaca or sharegpt, a file or a folder; studio.data.entry).

Registering checks everything first and writes last: a failure changes no file. A dataset
name that exists is replaced only when asked (`replace`), and names that clash are refused
(studio.data.clashes). Both registry files are rewritten atomically under the workspace
lock "dataset_info", so several processes can register datasets at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.data.clashes import COMPANIONS_KEY, NameClaim, clashes
from studio.data.conversation import RowProblem, Turns, convert_row
from studio.data.entry import parse_entry
from studio.data.names import rows_file
from studio.data.rowfiles import RowFileError, read_entry_rows, read_json, write_rows_json
from studio.data.validate import SIDECAR_NAME, format_problems, validate_entry
from studio.errors import StudioError
from studio.fsutil import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from studio.workspace import Workspace

KINDS = ("sft", "preference")
SFT_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}
PREFERENCE_COLUMNS = {
    "prompt": "instruction",
    "query": "input",
    "chosen": "chosen",
    "rejected": "rejected",
    "system": "system",
}
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

    @property
    def num_samples(self) -> int | None:
        """The entry's num_samples (rows training draws), None when absent or not a number."""
        value = self.entry.get("num_samples")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Example:
    """One row, read through the entry's formatting and `columns`: what evaluation, pair mining
    and training use. `prompt` is the last user turn; `history` holds the (user, assistant)
    turns before it."""

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
    history: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NewDataset:
    """A dataset to register: `rows` of `kind` ("sft": instruction/input/output/system rows;
    "preference": instruction/input/chosen/rejected/system), its studio metadata, the
    files written beside it (`companions`: file name in datasets/ -> text) and, when its
    name was made from a file or folder name, that name (`made_from`)."""

    name: str
    rows: list[dict[str, Any]]
    kind: str
    meta: DatasetMeta = field(default_factory=DatasetMeta)
    companions: Mapping[str, str] = field(default_factory=dict)
    made_from: str | None = None

    @property
    def claim(self) -> NameClaim:
        return NameClaim.of(self.name, self.made_from, list(self.companions))


def list_datasets(ws: Workspace) -> list[DatasetInfo]:
    """Every dataset in `dataset_info.json`, in file order (hand-added ones have meta None)."""
    info = _read_info(ws)
    sidecar = _read_sidecar(ws)
    return [
        _dataset_info(ws, name, entry, sidecar.get(name))
        for name, entry in info.items()
        if isinstance(entry, dict)
    ]


def get_dataset(ws: Workspace, name: str) -> DatasetInfo:
    """The dataset called `name`; a StudioError naming the registered ones when absent."""
    info = _read_info(ws)
    entry = info.get(name)
    if not isinstance(entry, dict):
        known = ", ".join(info) or "none"
        raise StudioError(
            f"no dataset '{name}' in {ws.dataset_info_path} (registered: {known}); "
            "import one with `python -m studio data import`"
        )
    return _dataset_info(ws, name, entry, _read_sidecar(ws).get(name))


def check_names_free(ws: Workspace, claims: Sequence[NameClaim], replace: bool = False) -> None:
    """A StudioError naming every clash `claims` would have (studio.data.clashes); nothing is
    written. Importers call it before their slow work; registering checks again."""
    _refuse(clashes(ws.root, _read_info(ws), _read_sidecar(ws), claims, replace))


def _refuse(problems: Sequence[str]) -> None:
    """Raise a StudioError listing `problems`, if there are any."""
    if len(problems) == 1:
        raise StudioError(problems[0])
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        raise StudioError(f"nothing was registered:\n{listed}")


def register_dataset(
    ws: Workspace,
    name: str,
    rows: list[dict[str, Any]],
    kind: str,
    meta: DatasetMeta | Mapping[str, Any] | None = None,
    replace: bool = False,
) -> DatasetInfo:
    """Write `rows` to `datasets/NAME.json` and register them (see `register_datasets`)."""
    meta = meta if isinstance(meta, DatasetMeta) else DatasetMeta(**(meta or {}))
    return register_datasets(ws, [NewDataset(name, rows, kind, meta)], replace)[0]


def register_datasets(
    ws: Workspace, datasets: Sequence[NewDataset], replace: bool = False
) -> list[DatasetInfo]:
    """Register `datasets` all together, or none of them.

    Everything is checked before anything is written: the registry files must load, no
    name may clash (studio.data.clashes; a registered name is replaced only with
    `replace`), and every dataset's rows must be valid. Then the rows files and companions
    are written, then dataset_info.json, then the sidecar, each atomically; companions a
    replaced dataset had and the new one has not are deleted.
    """
    with ws.lock(LOCK_NAME):
        return register_datasets_unlocked(ws, datasets, replace)


def register_datasets_unlocked(
    ws: Workspace, datasets: Sequence[NewDataset], replace: bool = False
) -> list[DatasetInfo]:
    """`register_datasets` for a caller that already holds `ws.lock("dataset_info")`."""
    info, sidecar = _read_info(ws), _read_sidecar(ws)
    _refuse(clashes(ws.root, info, sidecar, [dataset.claim for dataset in datasets], replace))
    entries = {}
    for dataset in datasets:
        if dataset.kind not in KINDS:
            raise StudioError(
                f"dataset kind {dataset.kind!r} is unknown; use one of {', '.join(KINDS)}"
            )
        entry = registry_entry(dataset.name, dataset.kind)
        problems = validate_entry(ws.root, dataset.name, entry, rows=dataset.rows)
        if problems:
            raise StudioError(
                f"dataset '{dataset.name}' was not registered:\n{format_problems(problems)}"
            )
        entries[dataset.name] = entry
    stale = {dataset.name: _companions(sidecar.get(dataset.name)) for dataset in datasets}
    for dataset in datasets:
        write_rows_json(ws.root / entries[dataset.name]["file_name"], dataset.rows)
        for file, text in dataset.companions.items():
            atomic_write_text(ws.datasets_dir / file, text)
    info.update(entries)
    atomic_write_json(ws.dataset_info_path, info)
    registered_at = time.strftime("%Y-%m-%dT%H:%M:%S")
    for dataset in datasets:
        sidecar[dataset.name] = {
            "kind": dataset.kind,
            "rows": len(dataset.rows),
            **asdict(dataset.meta),
            COMPANIONS_KEY: dataset.claim.files[1:],
            "registered_at": registered_at,
        }
    atomic_write_json(_sidecar_path(ws), sidecar)
    for dataset in datasets:
        for file in set(stale[dataset.name]) - set(dataset.claim.files):
            (ws.root / file).unlink(missing_ok=True)
    return [_dataset_info(ws, d.name, entries[d.name], sidecar[d.name]) for d in datasets]


def unregister_dataset(ws: Workspace, name: str) -> None:
    """Remove `name` from the registry; its files are deleted when the studio wrote them."""
    with ws.lock(LOCK_NAME):
        info = _read_info(ws)
        if name not in info:
            known = ", ".join(info) or "none"
            raise StudioError(
                f"no dataset '{name}' in {ws.dataset_info_path} (registered: {known})"
            )
        entry = info.pop(name)
        sidecar = _read_sidecar(ws)
        record = sidecar.pop(name, None)
        atomic_write_json(ws.dataset_info_path, info)
        atomic_write_json(_sidecar_path(ws), sidecar)
    if record is not None and isinstance(entry, dict) and entry.get("file_name") == rows_file(name):
        for file in (entry["file_name"], *_companions(record)):
            (ws.root / file).unlink(missing_ok=True)


def _companions(record: Mapping[str, Any] | None) -> list[str]:
    """The companion files a registered dataset's sidecar record lists."""
    return [str(file) for file in (record or {}).get(COMPANIONS_KEY) or []]


def load_examples(ws: Workspace, name: str) -> list[Example]:
    """The rows of dataset `name` as Examples (read by its formatting, columns and tags)."""
    dataset = get_dataset(ws, name)
    fix = "run `python -m studio data validate`"
    try:
        attr = parse_entry(dataset.entry)
    except StudioError as error:
        raise StudioError(f"dataset '{name}': {error}") from None
    try:
        rows = read_entry_rows(ws.root / attr.file_name)
    except RowFileError as error:
        raise StudioError(f"dataset '{name}': {error}; {fix}") from None
    examples = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise StudioError(f"dataset '{name}' row {index} is not an object; {fix}")
        try:
            turns = convert_row(attr, row)
        except RowProblem as problem:
            raise StudioError(f"dataset '{name}' row {index}: {problem}") from None
        examples.append(_example(index, row, turns))
    return examples


def database_ref(ws: Workspace, name: str, db_id: str) -> str | None:
    """The database (absolute SQLite path or mysql:// URL) of `db_id` in dataset `name`, or None."""
    record = _read_sidecar(ws).get(name) or {}
    return (record.get("databases") or {}).get(db_id)


def _example(index: int, row: dict[str, Any], turns: Turns) -> Example:
    return Example(
        index=index,
        system=turns.system,
        prompt=turns.prompt,
        response=turns.response,
        chosen=turns.chosen,
        rejected=turns.rejected,
        question_id=row.get("question_id"),
        db_id=row.get("db_id"),
        question=row.get("question"),
        evidence=row.get("evidence"),
        difficulty=row.get("difficulty"),
        gold_sql=row.get("gold_sql") or turns.response,
        history=turns.history,
    )


def registry_entry(name: str, kind: str) -> dict[str, Any]:
    """The dataset_info.json entry the studio writes for dataset `name` of `kind`."""
    entry: dict[str, Any] = {"file_name": rows_file(name), "formatting": "alpaca"}
    if kind == "preference":
        entry["ranking"] = True
        entry["columns"] = dict(PREFERENCE_COLUMNS)
    else:
        entry["columns"] = dict(SFT_COLUMNS)
    return entry


def _dataset_info(
    ws: Workspace, name: str, entry: dict[str, Any], record: Mapping[str, Any] | None
) -> DatasetInfo:
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
    return read_json(
        path,
        dict,
        "the top level must be a JSON object mapping dataset names to entries",
        fix="correct it, then run `python -m studio data validate`",
    )
