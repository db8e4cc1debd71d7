"""GRPO's execution reward: each sampled answer's SQL run read-only next to its question's gold.

An answer scores (docs/TRAINING.md, "GRPO"):
- 1.0 when its SQL returns the gold result (the EX rule of studio.sql.compare, as evaluation);
- `reward_wrong_result` (default 0.1) when it runs but returns another result, plus
  `reward_overlap` (default 0) times the share of rows it has in common with the gold result
  (`rows_overlap`: shared rows over the rows of either);
- 0 for an error, a timeout, a refusal by the guard, or no SQL at all;
- plus `reward_format` (default 0) when the SQL sits in a closed ```sql block.
A question whose gold fails cannot be judged: its answers get None (TRL gives them no
advantage), and the run's log names the question's gold once (`unjudged_gold_warning`). Queries
run through the studio's sandboxed executor (studio.sql.execute) with its timeout and bounds,
`workers` at a time (each thread keeps its own executor process between steps); each gold runs
once per question and its result is kept for the whole run. Each call logs `grpo/reward_s`, the
seconds it took to score its answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from studio.data.gold_check import gold_failure_text
from studio.errors import StudioError
from studio.sql.compare import gold_requires_order, rows_overlap
from studio.sql.connect import parse_database
from studio.sql.execute import ExecResult, execute_sql
from studio.sql.extract import extract_sql, sql_settled
from studio.sql.score import SCORING_MAX_ROWS, ScoreItem, judge

NO_SQL = "no_sql"
ERROR_CATEGORIES = ("pred_error", "pred_timeout", "pred_refused", NO_SQL)


@dataclass(frozen=True)
class RewardWeights:
    """What each verdict is worth."""

    correct: float = 1.0
    wrong_result: float = 0.1
    format: float = 0.0
    overlap: float = 0.0


@dataclass(frozen=True)
class Scored:
    """One answer's verdict category and reward (None: its gold fails, nothing to judge)."""

    category: str
    reward: float | None


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or conversational messages."""
    if isinstance(completion, str):
        return completion
    return "".join(message.get("content") or "" for message in completion)


class ExecutionReward:
    """A TRL reward function: `reward(prompts, completions, database=..., gold_sql=...)`.

    `database` and `gold_sql` are the dataset's columns of the same names (one per answer).
    """

    __name__ = "execution"

    def __init__(self, weights: RewardWeights, timeout_s: float, workers: int) -> None:
        self.weights, self.timeout_s = weights, timeout_s
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reward")
        self.golds: dict[tuple[str, str], tuple[ExecResult, bool]] = {}

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        database: Sequence[str],
        gold_sql: Sequence[str],
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        started = time.monotonic()
        texts = [completion_text(c) for c in completions]
        scored = self.score(texts, database, gold_sql)
        if log_metric is not None:
            for name, value in batch_stats(scored, prompts, database).items():
                log_metric(name, value)
            log_metric("grpo/reward_s", time.monotonic() - started)
        return [s.reward for s in scored]

    def score(
        self, texts: Sequence[str], databases: Sequence[str], golds: Sequence[str]
    ) -> list[Scored]:
        """Each answer's verdict and reward: new golds run first, then the answers, in parallel."""
        new = sorted({(d, g) for d, g in zip(databases, golds, strict=True)} - self.golds.keys())
        for key, gold in zip(new, self.pool.map(lambda k: self._gold(*k), new), strict=True):
            self.golds[key] = gold
            if not gold[0].ok or gold[0].truncated:
                print(f"warning: {unjudged_gold_warning(*key, gold[0])}", flush=True)
        return list(self.pool.map(self._one, texts, databases, golds))

    def _gold(self, database: str, gold_sql: str) -> tuple[ExecResult, bool]:
        result = execute_sql(database, gold_sql, self.timeout_s, SCORING_MAX_ROWS)
        return result, gold_requires_order(gold_sql, parse_database(database).dialect)

    def _one(self, text: str, database: str, gold_sql: str) -> Scored:
        gold, order_matters = self.golds[(database, gold_sql)]
        sql = extract_sql(text)
        if not gold.ok or gold.truncated:
            return Scored("gold_error", None)
        fmt = self.weights.format if sql_settled(text) else 0.0
        if not sql:
            return Scored(NO_SQL, fmt)
        pred = execute_sql(database, sql, self.timeout_s, SCORING_MAX_ROWS)
        verdict = judge(ScoreItem("", database, gold_sql, sql), gold, pred, order_matters)
        if verdict.category == "correct":
            return Scored(verdict.category, self.weights.correct + fmt)
        if verdict.category != "wrong_result":
            return Scored(verdict.category, fmt)
        partial = (
            self.weights.overlap * rows_overlap(pred.rows, gold.rows)
            if self.weights.overlap
            else 0.0
        )
        return Scored(verdict.category, self.weights.wrong_result + partial + fmt)


def unjudged_gold_warning(database: str, gold_sql: str, gold: ExecResult) -> str:
    """Why answers to a question are not rewarded: its gold SQL failed or returned too many
    rows, and how to list every such question."""
    why = gold_failure_text(gold.truncated, SCORING_MAX_ROWS, gold.error_kind, gold.error)
    try:
        where = f"on {parse_database(database).name}"
    except StudioError:  # the database is gone: the gold's failure says so
        where = "whose database cannot be opened"
    shown = " ".join(gold_sql.split())
    return (
        f"the gold SQL of a question {where} cannot judge answers ({why}): its answers get "
        f"no reward; `python -m studio data validate --golds` lists every such row. Gold: "
        f"{shown[:300]}{'…' if len(shown) > 300 else ''}"
    )


def batch_stats(
    scored: Sequence[Scored], prompts: Sequence[Any], databases: Sequence[str]
) -> dict[str, float]:
    """Shares of correct answers, of failing ones (and among them of those that ran out of time),
    and of groups (answers to one prompt) with any and with every answer correct (the latter and
    groups with none give GRPO no signal)."""
    groups: dict[str, list[bool]] = {}
    for s, prompt, database in zip(scored, prompts, databases, strict=True):
        groups.setdefault(f"{database}\0{prompt!r}", []).append(s.category == "correct")
    total = max(len(scored), 1)
    return {
        "grpo/correct": sum(s.category == "correct" for s in scored) / total,
        "grpo/exec_error": sum(s.category in ERROR_CATEGORIES for s in scored) / total,
        "grpo/timeout": sum(s.category == "pred_timeout" for s in scored) / total,
        "grpo/any_correct": sum(any(g) for g in groups.values()) / max(len(groups), 1),
        "grpo/all_correct": sum(all(g) for g in groups.values()) / max(len(groups), 1),
    }
