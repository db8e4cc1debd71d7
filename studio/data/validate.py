"""Validate `dataset_info.json` and the files it names, the way LLaMA-Factory will read them.

Every problem names the file, the dataset entry, the field and the fix, so that a user
never meets LLaMA-Factory's "Cannot find valid samples" without knowing why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.data.conversation import RowProblem, Turns, convert_row
from studio.data.entry import EntryAttr, check_entry
from studio.data.rowfiles import RowFileError, data_files, read_rows

if TYPE_CHECKING:
    from studio.workspace import Workspace

MAX_ROW_PROBLEMS = 5
SIDECAR_NAME = "studio_datasets.json"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a registered dataset, and how to fix it."""

    file: str
    entry: str | None
    field: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.file
        if self.entry is not None:
            where += f" [{self.entry}]"
        if self.field is not None:
            where += f" {self.field}"
        return f"{where}: {self.message}. Fix: {self.fix}"


def format_problems(problems: Sequence[Problem]) -> str:
    """One problem per line."""
    return "\n".join(f"- {problem}" for problem in problems)


def validate_registry(ws: Workspace) -> list[Problem]:
    """Every problem in the workspace's `dataset_info.json`, its dataset files and the sidecar."""
    info_path = ws.dataset_info_path
    if not info_path.exists():
        return []
    info, problem = _load_dataset_info(info_path)
    if problem is not None:
        return [problem]
    problems: list[Problem] = []
    for name, entry in info.items():
        problems.extend(validate_entry(ws.root, name, entry, info_file=info_path))
    problems.extend(_validate_sidecar(ws.root, info))
    return problems


def _load_dataset_info(path: Path) -> tuple[dict[str, Any], Problem | None]:
    try:
        info = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        return {}, Problem(
            str(path),
            None,
            None,
            f"JSON does not parse at line {error.lineno}, column {error.colno}: {error.msg}",
            "correct the JSON syntax there (a missing comma or quote is the usual cause), "
            "then run `python -m studio data validate` again",
        )
    if not isinstance(info, dict):
        return {}, Problem(
            str(path),
            None,
            None,
            f"the top level is a JSON {type(info).__name__}",
            'make it an object mapping dataset names to entries: {"name": {"file_name": ...}}',
        )
    return info, None


def validate_dataset(ws: Workspace, name: str) -> list[Problem]:
    """Every problem of the registered dataset `name`: what `data validate` reports for it and
    what `train --check` refuses (a dataset absent from dataset_info.json is one problem)."""
    info_path = ws.dataset_info_path
    info, problem = _load_dataset_info(info_path) if info_path.exists() else ({}, None)
    if problem is not None:
        return [problem]
    if name not in info:
        return [
            Problem(
                str(info_path),
                name,
                None,
                "no such dataset",
                "import it with `python -m studio data import`, or add its entry",
            )
        ]
    return validate_entry(ws.root, name, info[name], info_file=info_path)


def validate_entry(
    root: Path, name: str, entry: Any, info_file: Path | None = None, rows: list[Any] | None = None
) -> list[Problem]:
    """Problems of one `dataset_info.json` entry whose `file_name` is relative to `root`.

    `rows`, when given, are checked instead of the file (before the studio writes it).
    """
    info = str(info_file or root / "dataset_info.json")
    attr, entry_problems = check_entry(entry)
    if attr is None:
        return [Problem(info, name, p.field, p.message, p.fix) for p in entry_problems]
    data_path = root / attr.file_name
    if rows is None:
        rows, problem = _read_entry_rows(info, name, data_path)
        if problem is not None:
            return [problem]
    return _row_problems(info, str(data_path), name, attr, rows)


def _column_key_problems(info: str, name: str, attr: EntryAttr) -> list[Problem]:
    """Columns LLaMA-Factory needs for this formatting and kind but the entry leaves out."""
    if attr.formatting == "sharegpt":
        needed = {"messages": "conversations"}
    else:
        needed = {"prompt": "instruction"}
        if not attr.ranking:
            needed["response"] = "output"
    missing = {column: key for column, key in needed.items() if attr.column(column) is None}
    problems = [
        Problem(
            info,
            name,
            "columns",
            f"columns leaves out {column}, so LLaMA-Factory reads no {column} (a column "
            "that columns does not name has no default)",
            f'add "{column}": "{key}" (the row key) to columns',
        )
        for column, key in missing.items()
    ]
    if attr.ranking and (attr.column("chosen") is None or attr.column("rejected") is None):
        problems.append(
            Problem(
                info,
                name,
                "columns",
                "ranking data needs columns for chosen and rejected",
                'add "chosen": "chosen", "rejected": "rejected" to columns',
            )
        )
    return problems


def _read_entry_rows(info: str, name: str, path: Path) -> tuple[list[Any], Problem | None]:
    if not path.exists():
        return [], Problem(
            info,
            name,
            "file_name",
            f"the file {path} does not exist",
            "create the file, or correct file_name (relative to the folder holding "
            "dataset_info.json), or unregister the dataset with `python -m studio data unregister`",
        )
    try:
        files = data_files(path)
    except RowFileError as error:
        return [], Problem(
            info,
            name,
            "file_name",
            f"{error.path}: {error.location} {error.detail}",
            "point file_name at a json, jsonl, csv, parquet or arrow file, or a folder of "
            "files of one of those types",
        )
    try:
        return [row for file in files for row in read_rows(file)], None
    except RowFileError as error:
        return [], Problem(
            str(error.path),
            name,
            error.location,
            f"the file does not parse: {error.detail}",
            f"correct the {'JSON' if 'json' in error.path.suffix else 'file'} at "
            f"{error.location} (or re-export it), then validate again",
        )


def _row_problems(
    info: str, file: str, name: str, attr: EntryAttr, rows: list[Any]
) -> list[Problem]:
    objects = [row for row in rows if isinstance(row, dict)]
    if len(objects) != len(rows):
        first = next(i for i, row in enumerate(rows) if not isinstance(row, dict))
        return [
            Problem(
                file,
                name,
                f"rows[{first}]",
                "rows must be JSON objects",
                'write every row as {"instruction": ..., "input": ..., "output": ...}',
            )
        ]
    row_keys = set().union(*(row.keys() for row in objects)) if objects else set()
    problems = (
        _ranking_problems(file, name, attr, row_keys)
        or _column_key_problems(info, name, attr)
        or _mapping_problems(file, name, attr, row_keys)
    )
    if problems:
        return problems
    found: list[Problem] = []
    usable = 0
    for index, row in enumerate(objects):
        try:
            turns = convert_row(attr, row)
        except RowProblem as problem:
            found.append(
                Problem(
                    file,
                    name,
                    f"rows[{index}].{problem.field}",
                    f"row {index}: {problem.message}",
                    problem.fix,
                )
            )
            continue
        empty = [key for key, answer in _answers(attr, turns) if not _text(answer)]
        found.extend(
            Problem(
                file,
                name,
                f"rows[{index}].{key}",
                f"row {index} has an empty {key}",
                f"write the expected answer in {key}, or delete the row",
            )
            for key in empty
        )
        usable += bool(_text(turns.prompt) and not empty)
    problems = found[:MAX_ROW_PROBLEMS]
    if len(found) > MAX_ROW_PROBLEMS:
        problems.append(
            Problem(
                file,
                name,
                None,
                f"{len(found) - MAX_ROW_PROBLEMS} more row problems like these",
                "fix or delete those rows as above",
            )
        )
    if not usable:
        problems.append(
            Problem(
                file,
                name,
                None,
                f"no usable rows ({len(objects)} rows, none with a non-empty "
                f"{_prompt_name(attr)} and {' and '.join(key for key, _ in _answers(attr, None))})",
                "add rows with both a prompt and an answer; LLaMA-Factory would stop with "
                "'Cannot find valid samples'",
            )
        )
    return problems


def _answers(attr: EntryAttr, turns: Turns | None) -> list[tuple[str, str | None]]:
    """(row key, answer) of each answer a row of `attr` needs (answers None without `turns`)."""
    names = ("chosen", "rejected") if attr.ranking else ("response",)
    if attr.formatting == "sharegpt" and not attr.ranking:
        return [(str(attr.column("messages")), turns.response if turns else None)]
    return [(str(attr.column(n)), getattr(turns, n) if turns else None) for n in names]


def _prompt_name(attr: EntryAttr) -> str:
    if attr.formatting == "sharegpt":
        return f"user turn in {attr.column('messages')}"
    return str(attr.column("prompt"))


def _mapping_problems(file: str, name: str, attr: EntryAttr, row_keys: set[str]) -> list[Problem]:
    if not row_keys:
        return []
    if attr.formatting == "sharegpt":
        read = ["messages", "system"]
    else:
        read = ["prompt", "query", "system", "history"]
        read += [] if attr.ranking else ["response"]
    read += ["chosen", "rejected"] if attr.ranking else []
    problems = []
    for column in read:
        key = attr.column(column)
        if key is None or key in row_keys:
            continue
        if column == "query" and column not in attr.explicit_columns:
            continue  # LLaMA-Factory treats a missing default "input" key as empty
        origin = (
            f"columns.{column}"
            if column in attr.explicit_columns
            else f"columns.{column} (default '{key}')"
        )
        problems.append(
            Problem(
                file,
                name,
                origin,
                f"rows have no key '{key}'; their keys are {', '.join(sorted(row_keys))}",
                f'map {column} to one of the row keys, e.g. "{column}": "<row key>"',
            )
        )
    return problems


def _ranking_problems(file: str, name: str, attr: EntryAttr, row_keys: set[str]) -> list[Problem]:
    has_pairs = {"chosen", "rejected"} <= row_keys
    if has_pairs and not attr.ranking:
        return [
            Problem(
                file,
                name,
                "ranking",
                "rows hold chosen/rejected pairs but the entry lacks ranking: true",
                'add "ranking": true and columns {"prompt": "instruction", "query": "input", '
                '"chosen": "chosen", "rejected": "rejected"}',
            )
        ]
    if (
        attr.ranking
        and not has_pairs
        and {attr.column("chosen"), attr.column("rejected")}
        == {
            "chosen",
            "rejected",
        }
    ):
        return [
            Problem(
                file,
                name,
                "ranking",
                "ranking is true but the rows have no chosen/rejected answers",
                'remove "ranking": true for SFT rows, or give every row "chosen" and '
                '"rejected" answers',
            )
        ]
    return []


def _validate_sidecar(root: Path, info: Mapping[str, Any]) -> list[Problem]:
    path = root / SIDECAR_NAME
    if not path.exists():
        return []
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        return [
            Problem(
                str(path),
                None,
                None,
                f"JSON does not parse at line {error.lineno}, column {error.colno}",
                "correct the JSON there, or delete the file and re-import the datasets",
            )
        ]
    problems = []
    for name, record in sidecar.items():
        if name not in info:
            problems.append(
                Problem(
                    str(path),
                    name,
                    None,
                    "recorded by the studio but absent from dataset_info.json",
                    f"re-import it, or run `python -m studio data unregister {name}`",
                )
            )
            continue
        for db_id, ref in (record.get("databases") or {}).items():
            if ref and not ref.startswith("mysql://") and not Path(ref).exists():
                problems.append(
                    Problem(
                        str(path),
                        name,
                        f"databases.{db_id}",
                        f"the database {ref} does not exist",
                        "restore the file, or re-import with --db-dir pointing at the databases",
                    )
                )
    return problems


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
