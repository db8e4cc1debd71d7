"""Prediction files: the run's own `predictions.jsonl` (appended batch by batch, resumable),
LLaMA-Factory's `generated_predictions.jsonl` written beside it, and a user's predictions
file for scoring only (validated, with errors naming line and fix).

A user's file is either the studio's shape (`question_id` or `index`, and `sql`, per line) or
LLaMA-Factory's (`prompt`, `predict`, `label` per line, line N answering dataset row N, as its
`do_predict` writes them); `predict` goes through the same SQL extraction as a model's reply.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.fsutil import atomic_write_text
from studio.jobs.runtime import append_jsonl, read_jsonl

if TYPE_CHECKING:
    from studio.data.registry import Example

MAX_LISTED_PROBLEMS = 10
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)


def trim_torn_tail(path: Path) -> None:
    """Cut an unterminated last line (a write interrupted by a crash) so appends stay
    line-aligned."""
    if not path.exists():
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())


def read_run_predictions(path: Path) -> dict[int, dict[str, Any]]:
    """Question index -> prediction record of a run's predictions.jsonl ({} when absent)."""
    trim_torn_tail(path)
    return {int(record["index"]): record for record in read_jsonl(path)}


def prediction_record(example: Example, output: str | None, sql: str) -> dict[str, Any]:
    """One line of predictions.jsonl (`output` is the model's raw reply; None when scored from a
    file)."""
    return {
        "index": example.index,
        "question_id": example.question_id,
        "db_id": example.db_id,
        "output": output,
        "sql": sql,
    }


def append_predictions(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append records to predictions.jsonl, one single-write line each."""
    for record in records:
        append_jsonl(path, record)


def write_generated_predictions(
    path: Path, examples: Sequence[Example], records: dict[int, dict[str, Any]]
) -> None:
    """LLaMA-Factory's generated_predictions.jsonl for `examples`: `prompt` (the user message),
    `predict` (the model's reply, or the SQL when scored from a file) and `label` (the gold
    answer), one line per example in dataset order."""
    lines = []
    for example in sorted(examples, key=lambda e: e.index):
        record = records[example.index]
        predict = record["output"] if record.get("output") is not None else record["sql"]
        line = {"prompt": example.prompt, "predict": predict, "label": example.gold_sql or ""}
        lines.append(json.dumps(line, ensure_ascii=False) + "\n")
    atomic_write_text(path, "".join(lines))


def read_predictions_file(path: Path, examples: Sequence[Example]) -> dict[int, str]:
    """Question index -> SQL from a user's JSONL file; a StudioError lists every bad line.

    A file whose first record has `predict` and no `sql` is LLaMA-Factory's
    generated_predictions.jsonl (see `_read_generated_predictions`).

    Each line is a JSON object with `sql` (a string) and `question_id` (matched against the
    dataset's question ids, as written or as text) or `index` (the 0-based row of the
    dataset); with both, they must name the same question. Each question at most once.
    """
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"predictions file not found: {path}")
    if _is_generated_predictions(path):
        return _read_generated_predictions(path, examples)
    by_id, ambiguous_ids = _question_ids(examples)
    predictions: dict[int, str] = {}
    first_line: dict[int, int] = {}
    problems: list[str] = []
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            index, sql, problem = _parse_line(line, len(examples), by_id, ambiguous_ids)
            if problem is None and index in predictions:
                problem = (
                    f"question index {index} (question_id {examples[index].question_id!r}) already "
                    f"predicted on line {first_line[index]}; keep one prediction per question"
                )
            if problem is not None:
                problems.append(f"line {number}: {problem}")
                continue
            predictions[index] = sql
            first_line[index] = number
    if problems:
        shown = "\n  ".join(problems[:MAX_LISTED_PROBLEMS])
        more = (
            f"\n  ... and {len(problems) - MAX_LISTED_PROBLEMS} more"
            if len(problems) > MAX_LISTED_PROBLEMS
            else ""
        )
        raise StudioError(
            f"{path}: {len(problems)} bad prediction line(s); each line must be "
            f'{{"question_id": ... or "index": N, "sql": "..."}}:\n  {shown}{more}'
        )
    if not predictions:
        raise StudioError(
            f"{path} holds no predictions; write one JSON object per line with question_id "
            "(or index) and sql"
        )
    return predictions


def _is_generated_predictions(path: Path) -> bool:
    with open(path, encoding="utf-8-sig") as handle:
        first = next((line for line in handle if line.strip()), "")
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and "predict" in record and "sql" not in record


def _read_generated_predictions(path: Path, examples: Sequence[Example]) -> dict[int, str]:
    """Index -> SQL from LLaMA-Factory's generated_predictions.jsonl: the N-th record answers
    dataset row N; a `label` that differs from that row's gold answer means another dataset
    (or order), and is refused."""
    from studio.sql.extract import extract_sql

    predictions: dict[int, str] = {}
    problems: list[str] = []
    with open(path, encoding="utf-8-sig") as handle:
        lines = [(n, line) for n, line in enumerate(handle, start=1) if line.strip()]
    if len(lines) > len(examples):
        raise StudioError(
            f"{path}: {len(lines)} predictions for a dataset of {len(examples)} rows; "
            "LLaMA-Factory's generated_predictions.jsonl answers the rows in order, so score it "
            "against the dataset it was predicted on"
        )
    for index, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: not valid JSON ({error.msg} at column {error.colno})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("predict"), str):
            problems.append(f"line {number}: field 'predict' must be a string")
            continue
        label, gold = record.get("label"), examples[index].gold_sql
        if isinstance(label, str) and gold is not None and _words(label) != _words(gold):
            problems.append(
                f"line {number}: label {label[:60]!r} is not row {index}'s answer "
                f"{gold[:60]!r}; the file was predicted on another dataset or order"
            )
            continue
        predictions[index] = extract_sql(record["predict"])
    if problems:
        shown = "\n  ".join(problems[:MAX_LISTED_PROBLEMS])
        raise StudioError(
            f"{path}: {len(problems)} bad line(s) in LLaMA-Factory's generated_predictions.jsonl "
            f"shape (prompt, predict, label per line, row by row):\n  {shown}"
        )
    if not predictions:
        raise StudioError(f"{path} holds no predictions")
    return predictions


def _words(text: str) -> str:
    """`text` with an empty or full think block dropped and whitespace runs made one space."""
    return " ".join(_THINK_BLOCK.sub("", text).split())


def _question_ids(examples: Sequence[Example]) -> tuple[dict[str, int], set[str]]:
    """Question id (as text) -> index, and the ids that several rows share."""
    by_id: dict[str, int] = {}
    ambiguous: set[str] = set()
    for example in examples:
        if example.question_id is None:
            continue
        key = str(example.question_id)
        if key in by_id:
            ambiguous.add(key)
        by_id[key] = example.index
    return by_id, ambiguous


def _parse_line(
    line: str, count: int, by_id: dict[str, int], ambiguous_ids: set[str]
) -> tuple[int, str, str | None]:
    """(index, sql, None) for a good line, else (-1, "", the problem)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return -1, "", f"not valid JSON ({error.msg} at column {error.colno})"
    if not isinstance(record, dict):
        return -1, "", "not a JSON object"
    sql = record.get("sql")
    if "sql" not in record:
        return -1, "", "missing field 'sql' (the predicted query)"
    if not isinstance(sql, str):
        return -1, "", f"field 'sql' must be a string, not {type(sql).__name__}"
    has_id, has_index = record.get("question_id") is not None, "index" in record
    if not has_id and not has_index:
        return -1, "", "missing field 'question_id' (or 'index', the 0-based dataset row)"
    index_from_id = None
    if has_id:
        key = str(record["question_id"])
        if key in ambiguous_ids:
            return (
                -1,
                "",
                f"question_id {record['question_id']!r} is shared by several dataset rows; "
                "use 'index'",
            )
        if key not in by_id:
            return (
                -1,
                "",
                f"unknown question_id {record['question_id']!r}: the dataset has no such question",
            )
        index_from_id = by_id[key]
    if has_index:
        index = record["index"]
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
            return -1, "", f"field 'index' must be an integer from 0 to {count - 1}, not {index!r}"
        if index_from_id is not None and index != index_from_id:
            return (
                -1,
                "",
                (
                    f"question_id {record['question_id']!r} is row {index_from_id}, "
                    f"but 'index' says {index}; drop one of the two"
                ),
            )
        return index, sql, None
    return index_from_id, sql, None  # type: ignore[return-value]
