"""Execute a dataset's gold SQL on its own databases and list the golds that fail.

A gold that fails (an error, a timeout, or more rows than scoring keeps) leaves its question
unjudgeable: EX counts it wrong for every model, pair mining labels it `gold_error` and GRPO
rewards none of its answers. The golds run through the same read-only executor, timeout and
row cap as scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.data.registry import get_dataset, list_datasets, load_examples

if TYPE_CHECKING:
    from studio.workspace import Workspace


@dataclass(frozen=True)
class GoldFailure:
    """One row whose gold SQL does not execute."""

    index: int
    db_id: str
    gold_sql: str
    error: str


@dataclass(frozen=True)
class GoldCheck:
    """How many golds of a dataset ran, and those that failed."""

    dataset: str
    executed: int
    failures: list[GoldFailure]


GOLD_FIX = (
    "correct or remove the row; no answer to it can be judged (EX counts it wrong for every "
    "model, pair mining labels it gold_error, GRPO rewards none)"
)


def check_datasets_golds(
    ws: Workspace,
    names: Sequence[str] = (),
    *,
    workers: int | None = None,
    timeout_s: float = 30.0,
    bars: bool = False,
) -> list[GoldCheck]:
    """`check_golds` for each named dataset (a StudioError names an unknown one), or for every
    registered dataset with gold SQL when none is named; `bars`: a progress bar each."""
    chosen = [get_dataset(ws, name).name for name in names] or [
        info.name for info in list_datasets(ws)
    ]
    checks = [
        check_golds(ws, name, workers=workers, timeout_s=timeout_s, bars=bars) for name in chosen
    ]
    return checks if names else [check for check in checks if check.executed]


def check_golds(
    ws: Workspace,
    dataset: str,
    *,
    workers: int | None = None,
    timeout_s: float = 30.0,
    bars: bool = False,
) -> GoldCheck:
    """Execute every gold SQL of `dataset` (rows without a gold or a db_id are skipped); a
    StudioError names a database the dataset lacks. Each gold is scored as its own prediction,
    so it runs once (studio.sql.score)."""
    from studio.evaluate.scoring import score_examples

    examples = [e for e in load_examples(ws, dataset) if e.gold_sql and e.db_id]
    if not examples:
        return GoldCheck(dataset, 0, [])
    rows = score_examples(
        ws,
        dataset,
        examples,
        {e.index: e.gold_sql for e in examples},  # type: ignore[misc]
        workers=workers,
        timeout_s=timeout_s,
        bars=bars,
    )
    failures = [
        GoldFailure(
            row["index"],
            row["db_id"],
            row["gold_sql"],
            gold_failure_text(
                row["gold"]["truncated"],
                row["gold"]["row_count"],
                row["gold"]["error_kind"],
                row["gold"]["error"],
            ),
        )
        for row in rows
        if row["category"] == "gold_error"
    ]
    return GoldCheck(dataset, len(examples), failures)


def gold_failure_text(
    truncated: bool, row_count: int, error_kind: str | None, error: str | None
) -> str:
    """Why a gold's result cannot judge answers: cut off at the rows scoring keeps, or its
    error."""
    if truncated:
        return f"returns more than the {row_count:,} rows scoring keeps"
    return f"{error_kind or 'error'}: {error}"
