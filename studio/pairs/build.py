"""Pair strategies: which verified SQL becomes `chosen` and which `rejected`, per question.

- `gold`: chosen = the gold SQL, rejected = a verified-wrong candidate.
- `onpolicy`: chosen = a verified-correct candidate of the model, rejected = a verified-wrong one.

Rejected candidates are taken wrong-result first, then errors, each group in sample order,
so the choice is deterministic. A wrong-result query is valid SQL over the right schema
that answers a different question: the mistake DPO should unlearn (a "hard negative").
An error is often a truncated or malformed reply, which is far from the chosen answer,
and whose failure may come from the engine rather than from the meaning, so it teaches
less per pair. Timeouts are never rejected (not proven wrong), nor is a candidate whose
normal form equals the gold's (a non-deterministic gold can make it look wrong), nor an
empty one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.pairs.store import PAIRED
from studio.pairs.verify import Candidate

REJECTABLE = ("wrong_result", "error")  # in order of preference


@dataclass(frozen=True)
class Side:
    """One side of a pair: the SQL, where it came from (gold, sample:N, edit), its label and
    execution."""

    sql: str
    origin: str
    label: str
    execution: dict[str, Any]


@dataclass(frozen=True)
class QuestionPlan:
    """A question's outcome (`paired` or a skip reason) and its pairs (chosen, rejected)."""

    outcome: str
    pairs: list[tuple[Side, Side]]


def _side(candidate: Candidate) -> Side:
    return Side(candidate.sql, f"sample:{candidate.sample}", candidate.label, candidate.execution)


def rejectable_candidates(candidates: Sequence[Candidate], gold_normalized: str) -> list[Candidate]:
    """Unique verified-wrong candidates, wrong-result before error, each in sample order."""
    usable = [
        c
        for c in candidates
        if c.duplicate_of is None
        and c.label in REJECTABLE
        and c.sql.strip()
        and c.normalized != gold_normalized
    ]
    return sorted(usable, key=lambda c: (REJECTABLE.index(c.label), c.sample))


def interleave(
    chosen: Sequence[Side], rejected: Sequence[Side], limit: int
) -> list[tuple[Side, Side]]:
    """Up to `limit` distinct pairs: every rejected once (chosen cycling) before any repeats."""
    rounds = [
        (chosen[(j + r) % len(chosen)], rejected[j])
        for r in range(len(chosen))
        for j in range(len(rejected))
    ]
    return rounds[:limit]


def plan_pairs(
    strategy: str,
    candidates: Sequence[Candidate],
    gold_sql: str,
    gold_normalized: str,
    gold_execution: dict[str, Any],
    pairs_per_question: int,
) -> QuestionPlan:
    """The pairs of one question under `strategy`, or the reason it has none."""
    unique = [c for c in candidates if c.duplicate_of is None]
    if any(c.label == "gold_error" for c in unique):
        return QuestionPlan("gold_error", [])
    if strategy == "gold":
        chosen = [Side(gold_sql, "gold", "correct", gold_execution)]
    else:
        chosen = [_side(c) for c in sorted(unique, key=lambda c: c.sample) if c.label == "correct"]
        if not chosen:
            return QuestionPlan("no_correct_candidate", [])
    rejected = [_side(c) for c in rejectable_candidates(unique, gold_normalized)]
    if not rejected:
        return QuestionPlan("no_wrong_candidate", [])
    return QuestionPlan(PAIRED, interleave(chosen, rejected, pairs_per_question))


def pair_verdict(chosen_label: str, rejected_label: str) -> tuple[str, str | None]:
    """`("valid", None)` when chosen returns the gold result and rejected is proven wrong,
    else `("flagged", why)`."""
    problems = []
    if "gold_error" in (chosen_label, rejected_label):
        return "flagged", "the gold SQL fails on the database, so neither side can be verified"
    if chosen_label != "correct":
        problems.append(f"chosen SQL does not return the gold result ({chosen_label})")
    if rejected_label == "correct":
        problems.append("rejected SQL returns the gold result, so it is not a wrong answer")
    elif rejected_label == "timeout":
        problems.append("rejected SQL timed out, so it is not proven wrong")
    return ("flagged", "; ".join(problems)) if problems else ("valid", None)
