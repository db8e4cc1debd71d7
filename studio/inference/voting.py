"""Execution-guided voting: among N sampled SQL answers, answer with the result most agree on.

Each candidate runs read-only on the question's database (the studio's sandboxed executor, with
its timeout and caps). Candidates that fail (syntax, unknown column, timeout, refused...) get no
vote. The others are grouped by result under the EX set rule (rows equal as sets, column order
counts; there is no gold query, so row order never counts); the largest group wins, a tie goes
to the group holding the most likely candidate, then to the group seen first. The answer is the
most likely SQL of the winning group. When no candidate executes, the most likely candidate is
the answer and `votes` is 0. `tally` applies the rule to results already at hand (pair mining
votes from the executions it stored); `vote` executes first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from studio.sql.compare import rows_digest
from studio.sql.connect import DatabaseRef
from studio.sql.execute import execute_sql

DEFAULT_VOTE_TEMPERATURE = 0.7  # self-consistency's sampling temperature (Wang et al., 2023)
DEFAULT_VOTE_TOP_P = 1.0


@dataclass(frozen=True)
class Vote:
    """The voted answer: its SQL, its index among the `n` candidates, how many candidates
    returned its result, how many executed, and how many distinct results they returned."""

    sql: str
    index: int
    votes: int
    n: int
    executed: int
    distinct_results: int

    @property
    def agreement(self) -> float:
        """The share of all candidates that returned the voted result (votes / n)."""
        return self.votes / self.n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ballot:
    """One question to vote on: its database, its candidate SQL texts and their likelihoods."""

    database: str | Path | DatabaseRef
    candidates: Sequence[str]
    likelihoods: Sequence[float] | None = None


def tally(
    candidates: Sequence[str],
    results: Sequence[str | None],
    likelihoods: Sequence[float] | None = None,
) -> Vote:
    """The vote among candidates already executed: `results[i]` is candidate i's result as
    `rows_digest` gives it, None when it failed (no vote).

    `likelihoods` (e.g. each answer's mean token log-probability) break ties and pick the
    representative SQL of a group; without them, earlier candidates count as more likely.
    """
    if not candidates:
        raise ValueError("voting needs at least one candidate")
    if len(results) != len(candidates):
        raise ValueError("give one result per candidate")
    scores = list(likelihoods) if likelihoods is not None else [-i for i in range(len(candidates))]
    if len(scores) != len(candidates):
        raise ValueError("give one likelihood per candidate")
    groups: dict[str, list[int]] = {}
    for index, key in enumerate(results):
        if key is not None:
            groups.setdefault(key, []).append(index)
    n = len(candidates)
    if not groups:
        best = max(range(n), key=lambda i: (scores[i], -i))
        return Vote(candidates[best], best, 0, n, 0, 0)
    order = list(groups.values())  # insertion order: the group seen first comes first
    winner = max(
        range(len(order)),
        key=lambda g: (len(order[g]), max(scores[i] for i in order[g]), -g),
    )
    best = max(order[winner], key=lambda i: (scores[i], -i))
    executed = sum(len(members) for members in order)
    return Vote(candidates[best], best, len(order[winner]), n, executed, len(order))


def vote(
    database: str | Path | DatabaseRef,
    candidates: Sequence[str],
    likelihoods: Sequence[float] | None = None,
    timeout_s: float = 30.0,
    max_rows: int | None = 10_000,
) -> Vote:
    """Vote among `candidates` (SQL texts) by executing each on `database` (see `tally`)."""
    results: dict[str, str | None] = {}  # sampled answers repeat: each text runs once
    for sql in candidates:
        text = sql.strip()
        if text not in results:
            result = execute_sql(database, text, timeout_s=timeout_s, max_rows=max_rows)
            results[text] = rows_digest(result.rows) if result.ok else None
    return tally(candidates, [results[sql.strip()] for sql in candidates], likelihoods)


def vote_all(
    ballots: Sequence[Ballot],
    workers: int = 4,
    timeout_s: float = 30.0,
    max_rows: int | None = 10_000,
    on_done: Callable[[int], None] | None = None,
) -> list[Vote]:
    """`vote` for each ballot, in order, `workers` questions at a time (each thread runs its
    queries in its own executor process). `on_done(1)` is called, in the calling thread, as
    each ballot is decided."""

    def one(ballot: Ballot) -> Vote:
        return vote(ballot.database, ballot.candidates, ballot.likelihoods, timeout_s, max_rows)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, ballot) for ballot in ballots]
        for _ in as_completed(futures):
            if on_done is not None:
                on_done(1)
        return [future.result() for future in futures]
