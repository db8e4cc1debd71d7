"""The execution-guided vote among a question's mined samples, and a run's figures.

The vote follows studio.inference.voting (`tally`: failing samples get no vote, results
grouped by the EX set rule, a tie to the sample seen first, as mining keeps no likelihoods),
decided from the executions verification stored, so nothing runs again. The voted answer is
right when its sample is labelled `correct`. A run's figures over its voted questions:
maj@n (the voted answer is right), pass@n (some sample is right) and the mean share of
right samples, as `eval --vote` would count them (a failing gold counts as wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.inference.voting import Vote, tally
from studio.pairs.verify import Candidate


@dataclass(frozen=True)
class QuestionVote:
    """A question's vote, the sample it answers with, and whether that sample is right."""

    vote: Vote
    sample: int
    correct: bool


def vote_candidates(candidates: Sequence[Candidate]) -> QuestionVote | None:
    """The vote among one question's verified samples (in sample order); None when there are
    none, or a sample that ran has no stored digest of its rows (verified before digests were
    stored)."""
    ran = [bool(c.execution.get("ok")) for c in candidates]
    digests = [c.execution.get("digest") for c in candidates]
    if not candidates or any(ok and not digest for ok, digest in zip(ran, digests, strict=True)):
        return None
    vote = tally(
        [c.sql for c in candidates],
        [digest if ok else None for ok, digest in zip(ran, digests, strict=True)],
    )
    voted = candidates[vote.index]
    return QuestionVote(vote, voted.sample, voted.label == "correct")


def vote_figures(n: int, questions: Sequence[tuple[bool, int, int]]) -> dict[str, Any]:
    """A run's figures from `(voted answer right, right samples, samples)` per voted question:
    counts and percentages of maj@n, pass@n and the mean share of right samples."""
    total = len(questions)
    voted = sum(1 for right, _, _ in questions if right)
    passed = sum(1 for _, correct, _ in questions if correct)
    shares = sum(correct / samples for _, correct, samples in questions)
    return {
        "n": n,
        "questions": total,
        "voted_correct": voted,
        "maj_at_n": _percent(voted, total),
        "any_correct": passed,
        "pass_at_n": _percent(passed, total),
        "correct_samples": sum(correct for _, correct, _ in questions),
        "samples": sum(samples for _, _, samples in questions),
        "mean_correct_share": _percent(shares, total),
    }


def _percent(part: float, total: int) -> float:
    return round(100.0 * part / total, 2) if total else 0.0


def vote_line(figures: dict[str, Any]) -> str:
    """The figures in one line: "maj@4 50.0% (2/4), pass@4 75.0% (3/4), right samples ..."."""
    n, questions = figures["n"], figures["questions"]
    return (
        f"maj@{n} {figures['maj_at_n']:.1f}% ({figures['voted_correct']}/{questions}), "
        f"pass@{n} {figures['pass_at_n']:.1f}% ({figures['any_correct']}/{questions}), "
        f"right samples {figures['mean_correct_share']:.1f}% "
        f"({figures['correct_samples']}/{figures['samples']})"
    )
