"""Read and write dataset row files, with exact error locations.

The file types are LLaMA-Factory's: `.json` (an array, or JSON lines), `.jsonl`, `.csv`,
`.parquet` and `.arrow`; a folder stands for every file in it, all of one type.
"""

from __future__ import annotations

import csv
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


# file extension -> LLaMA-Factory's loader type (its FILEEXT2TYPE); "text" is pre-training text
FILE_TYPES = {
    "arrow": "arrow",
    "csv": "csv",
    "json": "json",
    "jsonl": "json",
    "parquet": "parquet",
    "txt": "text",
}
ROW_FILE_TYPES = ("json", "csv", "parquet", "arrow")


def data_files(path: Path) -> list[Path]:
    """The files LLaMA-Factory loads for `file_name` `path`: the file, or every file in the
    folder (sorted), all of one readable type; a RowFileError says why not."""
    if path.is_dir():
        files = sorted(path.iterdir())
        if not files:
            raise RowFileError(path, "folder", "is empty; put the dataset's files in it")
        folders = [file.name for file in files if not file.is_file()]
        if folders:
            raise RowFileError(
                path, "folder", f"holds folders ({', '.join(folders)}); keep only data files"
            )
    elif path.is_file():
        files = [path]
    else:
        raise RowFileError(path, "file", "does not exist")
    types = {FILE_TYPES.get(file.suffix.lower().lstrip(".")) for file in files}
    if None in types:
        odd = next(f.name for f in files if FILE_TYPES.get(f.suffix.lower().lstrip(".")) is None)
        raise RowFileError(path, odd, f"is not a dataset file; use {', '.join(FILE_TYPES)} files")
    if len(types) > 1:
        raise RowFileError(
            path, "folder", f"mixes file types ({', '.join(sorted(types))}); keep files of one type"
        )
    if types == {"text"}:
        raise RowFileError(
            path,
            files[0].name,
            "is plain text (pre-training data); the studio trains on "
            "prompt/answer rows: use json, jsonl, csv, parquet or arrow",
        )
    return files


def read_entry_rows(path: Path) -> list[Any]:
    """Every row of a dataset file or folder (see `data_files`), in file order."""
    return [row for file in data_files(path) for row in read_rows(file)]


def read_rows(path: Path) -> list[Any]:
    """All rows of one file: CSV, Parquet, Arrow, or JSON (an array, or JSON lines: `.jsonl`,
    or `.json` holding one object a line)."""
    kind = FILE_TYPES.get(path.suffix.lower().lstrip("."))
    if kind == "csv":
        return _read_csv(path)
    if kind in ("parquet", "arrow"):
        return _read_arrow_table(path, kind)
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


def _read_csv(path: Path) -> list[Any]:
    """CSV rows as objects keyed by the header; an empty cell is null, as LLaMA-Factory reads it."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, strict=True)
            rows = [{key: value or None for key, value in row.items()} for row in reader]
    except FileNotFoundError:
        raise RowFileError(path, "file", "does not exist") from None
    except UnicodeDecodeError as error:
        raise RowFileError(path, f"byte {error.start}", "is not UTF-8 text") from None
    except csv.Error as error:
        raise RowFileError(path, f"line {reader.line_num}", str(error)) from None
    if any(None in row for row in rows):
        line = next(i for i, row in enumerate(rows, start=2) if None in row)
        raise RowFileError(path, f"line {line}", "has more cells than the header has names")
    return rows


def _read_arrow_table(path: Path, kind: str) -> list[Any]:
    """Rows of a Parquet file or an Arrow file (stream or file format, as `datasets` writes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if kind == "parquet":
            return pq.read_table(path).to_pylist()
        with pa.memory_map(str(path)) as source:
            try:
                return pa.ipc.open_stream(source).read_all().to_pylist()
            except pa.ArrowInvalid:
                source.seek(0)
                return pa.ipc.open_file(source).read_all().to_pylist()
    except FileNotFoundError:
        raise RowFileError(path, "file", "does not exist") from None
    except (pa.ArrowException, OSError) as error:
        raise RowFileError(path, "file", f"is not a readable {kind} file ({error})") from None


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
