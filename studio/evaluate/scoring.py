"""Score predicted SQL against a dataset's gold SQL on the dataset's own databases."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.fsutil import atomic_write_text

if TYPE_CHECKING:
    from studio.data.registry import Example
    from studio.workspace import Workspace

RULES = (
    "auto",
    "set",
)  # auto: ordered comparison when the gold has a top-level ORDER BY; set: BIRD's rule only

Progress = Callable[[dict[str, Any]], None]


def database_refs(ws: Workspace, dataset: str, examples: Sequence[Example]) -> dict[str, str]:
    """db_id -> database reference for every example; a StudioError names what is missing."""
    from studio.data.registry import database_ref

    no_gold = [e.index for e in examples if not e.gold_sql or not e.db_id]
    if no_gold:
        raise StudioError(
            f"dataset '{dataset}': rows {_some(no_gold)} have no gold SQL or db_id, so they cannot "
            "be scored; evaluate a text-to-SQL dataset imported with `python -m studio data import`"
        )
    refs: dict[str, str] = {}
    missing = []
    for db_id in sorted({e.db_id for e in examples if e.db_id}):
        ref = database_ref(ws, dataset, db_id)
        if ref is None:
            missing.append(db_id)
        else:
            refs[db_id] = ref
    if missing:
        raise StudioError(
            f"dataset '{dataset}' has no database registered for {_some(missing)}; import it again "
            "with --db-dir (SQLite files) or --mysql-url so its questions can be executed"
        )
    return refs


def score_examples(
    ws: Workspace,
    dataset: str,
    examples: Sequence[Example],
    sql_by_index: Mapping[int, str],
    *,
    workers: int | None = None,
    timeout_s: float = 30.0,
    rule: str = "auto",
    bars: bool = True,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One verdict row per example (in order) for the predicted SQL in `sql_by_index`."""
    from studio.sql.score import ScoreItem, score, tqdm_progress

    if rule not in RULES:
        raise StudioError(f"unknown comparison rule {rule!r}; use one of {', '.join(RULES)}")
    refs = database_refs(ws, dataset, examples)
    order_matters = None if rule == "auto" else False
    items = [
        ScoreItem(str(e.index), refs[e.db_id], e.gold_sql, sql_by_index[e.index], order_matters)  # type: ignore[arg-type,index]
        for e in examples
    ]
    update, close = tqdm_progress(len(items)) if bars else (None, None)
    done = 0

    def on_done(count: int) -> None:
        nonlocal done
        done += count
        if update is not None:
            update(count)
        if progress is not None:
            progress({"phase": "scoring", "done": done, "total": len(items)})

    try:
        verdicts = score(items, workers=workers, timeout_s=timeout_s, progress=on_done)
    finally:
        if close is not None:
            close()
    return [
        _verdict_row(example, sql_by_index[example.index], verdict.to_dict())
        for example, verdict in zip(examples, verdicts, strict=True)
    ]


def _verdict_row(example: Example, pred_sql: str, verdict: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": example.index,
        "question_id": example.question_id,
        "db_id": example.db_id,
        "difficulty": example.difficulty,
        "question": example.question,
        "correct": verdict["correct"],
        "category": verdict["category"],
        "order_matters": verdict["order_matters"],
        "gold_sql": example.gold_sql,
        "pred_sql": pred_sql,
        "gold": verdict["gold"],
        "pred": verdict["pred"],
    }


def write_verdicts(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """verdicts.jsonl, written atomically."""
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _some(values: Sequence[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:10])
    return shown + (f" and {len(values) - 10} more" if len(values) > 10 else "")
