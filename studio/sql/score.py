"""Parallel execution scoring: run each prediction next to its gold and judge it.

Work is split into chunks of items on the same database, so each worker process
reuses one cached read-only connection per database. Gold and prediction run on the
same engine with the same timeout; results are compared with `results_match`
(BIRD's set rule, or the ordered rule when the gold has a top-level ORDER BY). A prediction
whose text is the gold's is not run again: it gets the gold's result.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.sql.compare import gold_requires_order, results_match, rows_digest
from studio.sql.connect import DatabaseRef, parse_database
from studio.sql.execute import ExecResult, execute_sql
from studio.sql.result import display_value

CATEGORIES = ("correct", "wrong_result", "pred_error", "pred_timeout", "pred_refused", "gold_error")
SUMMARY_ROWS = 5
SCORING_MAX_ROWS = 1_000_000  # far above any benchmark answer; bounds memory on runaway joins


@dataclass
class ScoreItem:
    """One prediction to judge; `order_matters=None` decides from the gold's ORDER BY."""

    key: str
    database: str | Path | DatabaseRef
    gold_sql: str
    pred_sql: str
    order_matters: bool | None = None


@dataclass
class ResultSummary:
    """A short account of one execution, small enough to store per question; `digest`, when
    asked for, stands for all its rows under the set rule (`rows_digest`; None when the query
    failed or no digest was asked for)."""

    ok: bool
    row_count: int = 0
    first_rows: list[list[Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    truncated: bool = False
    error_kind: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    digest: str | None = None

    @classmethod
    def of(cls, result: ExecResult, digest: bool = False) -> ResultSummary:
        return cls(
            ok=result.ok,
            row_count=len(result.rows),
            first_rows=[[display_value(v) for v in row] for row in result.rows[:SUMMARY_ROWS]],
            columns=list(result.columns),
            truncated=result.truncated,
            error_kind=result.error_kind,
            error=result.error,
            elapsed_s=round(result.elapsed_s, 6),
            digest=rows_digest(result.rows) if digest and result.ok else None,
        )


@dataclass
class Verdict:
    key: str
    correct: bool
    category: str
    order_matters: bool
    pred: ResultSummary
    gold: ResultSummary

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(
    item: ScoreItem, gold: ExecResult, pred: ExecResult, order_matters: bool, digest: bool = False
) -> Verdict:
    """The verdict for one prediction, given both executions; with `digest`, both summaries
    carry the digest of their rows (what a vote among samples compares)."""
    if not gold.ok or gold.truncated:
        category = "gold_error"
    elif pred.error_kind == "timeout":
        category = "pred_timeout"
    elif pred.error_kind == "refused":
        category = "pred_refused"
    elif not pred.ok:
        category = "pred_error"
    elif not pred.truncated and results_match(pred.rows, gold.rows, order_matters):
        category = "correct"
    else:
        category = "wrong_result"
    return Verdict(
        key=item.key,
        correct=category == "correct",
        category=category,
        order_matters=order_matters,
        pred=ResultSummary.of(pred, digest),
        gold=ResultSummary.of(gold, digest),
    )


def score_chunk(
    items: Sequence[ScoreItem], timeout_s: float, max_rows: int, digests: bool = False
) -> list[Verdict]:
    """Score items in this process (gold results are reused for repeated gold SQL)."""
    gold_cache: dict[tuple[DatabaseRef, str], ExecResult] = {}
    verdicts = []
    for item in items:
        database = parse_database(item.database)
        gold_key = (database, item.gold_sql)
        if gold_key not in gold_cache:
            gold_cache[gold_key] = execute_sql(database, item.gold_sql, timeout_s, max_rows)
        pred = (
            gold_cache[gold_key]
            if item.pred_sql == item.gold_sql
            else execute_sql(database, item.pred_sql, timeout_s, max_rows)
        )
        order_matters = (
            item.order_matters
            if item.order_matters is not None
            else gold_requires_order(item.gold_sql, database.dialect)
        )
        verdicts.append(judge(item, gold_cache[gold_key], pred, order_matters, digests))
    return verdicts


def _chunks(items: Sequence[ScoreItem], workers: int) -> list[list[int]]:
    """Indices grouped by database, each group cut so every worker gets several chunks."""
    by_database: dict[DatabaseRef, list[int]] = {}
    for index, item in enumerate(items):
        by_database.setdefault(parse_database(item.database), []).append(index)
    size = max(1, min(64, -(-len(items) // (workers * 4))))
    return [
        group[i : i + size] for group in by_database.values() for i in range(0, len(group), size)
    ]


def score(
    items: Sequence[ScoreItem],
    workers: int | None = None,
    timeout_s: float = 30.0,
    max_rows: int = SCORING_MAX_ROWS,
    progress: Callable[[int], None] | None = None,
    digests: bool = False,
) -> list[Verdict]:
    """Verdicts in the order of `items`, computed by `workers` processes (default: one per
    CPU; 1 runs in this process). `progress(n)` is called as each batch of n items is done.
    `digests`: the execution summaries carry the digest of their rows (`rows_digest`).
    """
    items = [
        ScoreItem(i.key, parse_database(i.database), i.gold_sql, i.pred_sql, i.order_matters)
        for i in items
    ]
    workers = max(1, workers or os.cpu_count() or 1)
    chunks = _chunks(items, workers)
    verdicts: list[Verdict | None] = [None] * len(items)
    if workers == 1 or len(chunks) == 1:
        for chunk in chunks:
            _place(
                verdicts,
                chunk,
                score_chunk([items[i] for i in chunk], timeout_s, max_rows, digests),
                progress,
            )
        return verdicts  # type: ignore[return-value]
    with scoring_pool(min(workers, len(chunks))) as pool:
        futures = {
            pool.submit(score_chunk, [items[i] for i in chunk], timeout_s, max_rows, digests): chunk
            for chunk in chunks
        }
        for future in as_completed(futures):
            _place(verdicts, futures[future], future.result(), progress)
    return verdicts  # type: ignore[return-value]


def scoring_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` fresh processes (spawned: no inherited connections or locks) that ignore a job's
    cancel signal, so the scoring under way finishes with real verdicts."""
    from studio.jobs.procs import ignore_stop_signals

    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=ignore_stop_signals)


def _place(
    verdicts: list[Verdict | None],
    chunk: list[int],
    results: list[Verdict],
    progress: Callable[[int], None] | None,
) -> None:
    for index, verdict in zip(chunk, results, strict=True):
        verdicts[index] = verdict
    if progress is not None:
        progress(len(chunk))


def execution_accuracy(verdicts: Sequence[Verdict]) -> float:
    """EX as a percentage (0.0 for no verdicts)."""
    return 100.0 * sum(v.correct for v in verdicts) / len(verdicts) if verdicts else 0.0


def tqdm_progress(
    total: int, description: str = "scoring"
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A tqdm bar (items/s) for `score(progress=...)`, and the function that closes it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="q", smoothing=0.1)
    return bar.update, bar.close
