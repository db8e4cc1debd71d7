"""Read and write dataset row files (a JSON array or JSON lines), with exact error locations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.fsutil import atomic_write_text


class RowFileError(StudioError):
    """A row file that cannot be read; `location` is e.g. "line 3, column 17"."""

    def __init__(self, path: Path, location: str, detail: str) -> None:
        self.path = path
        self.location = location
        self.detail = detail
        super().__init__(f"{path}: {location}: {detail}")


def read_json(path: Path, expected: type, wrong_type: str, fix: str = "correct the file") -> Any:
    """The JSON document in `path` (UTF-8, BOM tolerated), which must be an `expected`.

    A parse error names the line and column and ends with `fix`; a document of another
    type raises `{path}: {wrong_type}`.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise StudioError(
            f"{path}: JSON does not parse at line {error.lineno}, column {error.colno} "
            f"({error.msg}); {fix}"
        ) from None
    if not isinstance(data, expected):
        raise StudioError(f"{path}: {wrong_type}")
    return data


def read_rows(path: Path) -> list[Any]:
    """All rows of `path`: a JSON array, or JSON lines (`.jsonl`, or `.json` holding one object a line)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RowFileError(path, "file", "does not exist") from None
    except UnicodeDecodeError as error:
        raise RowFileError(path, f"byte {error.start}", "is not UTF-8 text") from None
    if path.suffix.lower() == ".jsonl" or _looks_like_json_lines(text):
        return _parse_json_lines(path, text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise RowFileError(path, f"line {error.lineno}, column {error.colno}", error.msg) from None
    if not isinstance(data, list):
        raise RowFileError(
            path, "top level", f"is a JSON {type(data).__name__}, expected an array of rows"
        )
    return data


def _looks_like_json_lines(text: str) -> bool:
    """True for several top-level JSON objects one per line (a `.json` file written as JSONL)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(lines[0]), dict)
    except json.JSONDecodeError:
        return False


def _parse_json_lines(path: Path, text: str) -> list[Any]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise RowFileError(path, f"line {number}, column {error.colno}", error.msg) from None
    return rows


def write_rows_json(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically write `rows` as a JSON array, one row per line block (UTF-8)."""
    atomic_write_text(path, json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
