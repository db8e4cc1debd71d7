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

from studio.data.rowfiles import RowFileError, read_rows

if TYPE_CHECKING:
    from studio.workspace import Workspace

# LLaMA-Factory's alpaca column names (the KEYS of "columns") and its defaults.
ALPACA_COLUMNS = (
    "prompt",
    "query",
    "response",
    "system",
    "history",
    "chosen",
    "rejected",
    "kto_tag",
    "tools",
    "images",
    "videos",
    "audios",
)
DEFAULT_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
ROW_KEYS_MISTAKEN_FOR_COLUMNS = {"instruction": "prompt", "input": "query", "output": "response"}
REMOTE_SOURCE_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")
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


def validate_entry(
    root: Path, name: str, entry: Any, info_file: Path | None = None, rows: list[Any] | None = None
) -> list[Problem]:
    """Problems of one `dataset_info.json` entry whose `file_name` is relative to `root`.

    `rows`, when given, are checked instead of the file (before the studio writes it).
    """
    info = str(info_file or root / "dataset_info.json")
    if not isinstance(entry, dict):
        return [
            Problem(
                info,
                name,
                None,
                f"the entry is a JSON {type(entry).__name__}",
                'make it an object such as {"file_name": "datasets/NAME.json", "formatting": "alpaca"}',
            )
        ]
    if "file_name" not in entry:
        if any(key in entry for key in REMOTE_SOURCE_KEYS):
            return []
        return [
            Problem(
                info,
                name,
                "file_name",
                "no file_name",
                'add "file_name": "datasets/NAME.json" '
                "(relative to the folder holding dataset_info.json)",
            )
        ]
    formatting = entry.get("formatting", "alpaca")
    if formatting != "alpaca":
        return [
            Problem(
                info,
                name,
                "formatting",
                f"formatting is {formatting!r}; the studio reads alpaca data",
                'convert the rows to instruction/input/output and set "formatting": "alpaca"',
            )
        ]
    problems = _column_key_problems(info, name, entry)
    if problems:
        return problems
    data_path = root / str(entry["file_name"])
    if rows is None:
        rows, problem = _read_entry_rows(info, name, data_path)
        if problem is not None:
            return [problem]
    return _row_problems(str(data_path), name, entry, rows)


def _column_key_problems(info: str, name: str, entry: dict[str, Any]) -> list[Problem]:
    columns = entry.get("columns", {})
    if not isinstance(columns, dict):
        return [
            Problem(
                info,
                name,
                "columns",
                "columns is not an object",
                'write it as {"prompt": "instruction", "query": "input", "response": "output"}',
            )
        ]
    problems = []
    for key in columns:
        if key in ROW_KEYS_MISTAKEN_FOR_COLUMNS:
            problems.append(
                Problem(
                    info,
                    name,
                    f"columns.{key}",
                    f"'{key}' is a row key used as a column name; the keys of columns are "
                    "LLaMA-Factory's names and the values are your row keys",
                    f'write "{ROW_KEYS_MISTAKEN_FOR_COLUMNS[key]}": "{key}" instead of "{key}": ... '
                    '(alpaca: {"prompt": "instruction", "query": "input", "response": "output"})',
                )
            )
        elif key not in ALPACA_COLUMNS:
            problems.append(
                Problem(
                    info,
                    name,
                    f"columns.{key}",
                    f"'{key}' is not a LLaMA-Factory column name",
                    f"use one of {', '.join(ALPACA_COLUMNS[:7])} as the keys of columns",
                )
            )
    if entry.get("ranking") and not {"chosen", "rejected"} <= set(columns):
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
    if path.is_dir():
        return [], Problem(
            info,
            name,
            "file_name",
            f"{path} is a folder",
            "point file_name at one .json or .jsonl file",
        )
    try:
        return read_rows(path), None
    except RowFileError as error:
        return [], Problem(
            str(path),
            name,
            error.location,
            f"the file does not parse: {error.detail}",
            f"correct the JSON at {error.location} (or re-export the file), then validate again",
        )


def _row_problems(file: str, name: str, entry: dict[str, Any], rows: list[Any]) -> list[Problem]:
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
    columns = {**DEFAULT_COLUMNS, **entry.get("columns", {})}
    row_keys = set().union(*(row.keys() for row in objects)) if objects else set()
    problems = _ranking_problems(file, name, entry, row_keys) or _mapping_problems(
        file, name, entry, columns, row_keys
    )
    if problems:
        return problems
    targets = ("chosen", "rejected") if entry.get("ranking") else ("response",)
    empty = [
        (i, columns[t])
        for i, row in enumerate(objects)
        for t in targets
        if not _text(row.get(columns[t]))
    ]
    for index, key in empty[:MAX_ROW_PROBLEMS]:
        problems.append(
            Problem(
                file,
                name,
                f"rows[{index}].{key}",
                f"row {index} has an empty {key}",
                f"write the expected answer in {key}, or delete the row",
            )
        )
    if len(empty) > MAX_ROW_PROBLEMS:
        problems.append(
            Problem(
                file,
                name,
                None,
                f"{len(empty) - MAX_ROW_PROBLEMS} more rows have an empty answer",
                "fill or delete them as above",
            )
        )
    usable = [
        row
        for row in objects
        if _text(row.get(columns["prompt"])) and all(_text(row.get(columns[t])) for t in targets)
    ]
    if not usable:
        problems.append(
            Problem(
                file,
                name,
                None,
                f"no usable rows ({len(objects)} rows, none with a non-empty "
                f"{columns['prompt']} and {' and '.join(columns[t] for t in targets)})",
                "add rows with both a prompt and an answer; LLaMA-Factory would stop with "
                "'Cannot find valid samples'",
            )
        )
    return problems


def _mapping_problems(
    file: str, name: str, entry: dict[str, Any], columns: Mapping[str, Any], row_keys: set[str]
) -> list[Problem]:
    problems = []
    explicit = entry.get("columns", {})
    for column, key in columns.items():
        if key is None or column not in ALPACA_COLUMNS or not row_keys:
            continue
        if column == "query" and column not in explicit:
            continue  # LLaMA-Factory treats a missing default "input" key as empty
        if column == "response" and entry.get("ranking"):
            continue
        if key not in row_keys:
            origin = (
                "columns." + column if column in explicit else f"columns.{column} (default '{key}')"
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


def _ranking_problems(
    file: str, name: str, entry: dict[str, Any], row_keys: set[str]
) -> list[Problem]:
    has_pairs = {"chosen", "rejected"} <= row_keys
    if has_pairs and not entry.get("ranking"):
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
    if entry.get("ranking") and not has_pairs:
        return [
            Problem(
                file,
                name,
                "ranking",
                "ranking is true but the rows have no chosen/rejected answers",
                'remove "ranking": true for SFT rows, or give every row "chosen" and "rejected" strings',
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
