"""Execution-guided voting in an evaluation run.

Beside the greedy answer, each question gets N sampled answers (samples.jsonl in the run
folder, appended batch by batch with each answer's likelihood, so an interrupted run keeps
them). A vote among them (studio.inference.voting) picks one SQL per question; it is scored
like the greedy SQL, and the two are compared question by question (the paired bootstrap and
McNemar's test of studio.evaluate.statistics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.evaluate.predictions import trim_torn_tail
from studio.evaluate.report import summarize_verdicts
from studio.evaluate.scoring import Progress, database_refs, score_examples
from studio.evaluate.statistics import paired_difference
from studio.inference.voting import Ballot, Vote, vote_all
from studio.jobs.runtime import read_jsonl

if TYPE_CHECKING:
    from studio.data.registry import Example
    from studio.inference.likelihood import Likelihood
    from studio.workspace import Workspace

SAMPLES_FILE = "samples.jsonl"


def sample_record(
    example: Example,
    outputs: Sequence[str],
    sqls: Sequence[str],
    likelihoods: Sequence[Likelihood],
    temperature: float,
) -> dict[str, Any]:
    """One line of samples.jsonl: a question's sampled replies, their SQL and likelihoods."""
    return {
        "index": example.index,
        "question_id": example.question_id,
        "db_id": example.db_id,
        "temperature": temperature,
        "outputs": list(outputs),
        "sqls": list(sqls),
        "logprob_sum": [round(item.sum, 4) for item in likelihoods],
        "logprob_mean": [round(item.mean, 5) for item in likelihoods],
    }


def read_samples(path: Path, n: int, temperature: float) -> dict[int, dict[str, Any]]:
    """Question index -> its samples record, keeping only records of `n` answers sampled at
    `temperature` (those of other settings are sampled again)."""
    trim_torn_tail(path)
    return {
        int(record["index"]): record
        for record in read_jsonl(path)
        if len(record["sqls"]) == n and record["temperature"] == temperature
    }


def vote_examples(
    ws: Workspace,
    dataset: str,
    examples: Sequence[Example],
    samples: Mapping[int, dict[str, Any]],
    *,
    workers: int,
    timeout_s: float,
    progress: Progress | None,
) -> dict[int, Vote]:
    """Each question's vote among its sampled SQL (mean log-probability breaks ties)."""
    from studio.sql.score import SCORING_MAX_ROWS

    refs = database_refs(ws, dataset, examples)
    ballots = [
        Ballot(
            refs[e.db_id],  # type: ignore[index]
            samples[e.index]["sqls"],
            samples[e.index]["logprob_mean"],
        )
        for e in examples
    ]
    done = 0

    def on_done(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress({"phase": "voting", "done": done, "total": len(ballots)})

    votes = vote_all(ballots, workers, timeout_s, SCORING_MAX_ROWS, on_done)
    return {e.index: v for e, v in zip(examples, votes, strict=True)}


def score_votes(
    ws: Workspace,
    dataset: str,
    examples: Sequence[Example],
    greedy_rows: Sequence[dict[str, Any]],
    votes: Mapping[int, Vote],
    *,
    workers: int | None,
    timeout_s: float,
    rule: str,
    progress: Progress | None,
    bars: bool,
) -> list[dict[str, Any]]:
    """Score the voted SQL; each greedy verdict row gains a `vote` entry (the vote, the voted
    SQL's verdict and result). Returns the voted verdict rows."""

    def relabel(record: dict[str, Any]) -> None:
        if progress is not None:
            progress({**record, "phase": "scoring voted"})

    voted_rows = score_examples(
        ws,
        dataset,
        examples,
        {index: vote.sql for index, vote in votes.items()},
        workers=workers,
        timeout_s=timeout_s,
        rule=rule,
        bars=bars,
        progress=relabel,
    )
    for row, voted in zip(greedy_rows, voted_rows, strict=True):
        row["vote"] = {
            **votes[row["index"]].to_dict(),
            "correct": voted["correct"],
            "category": voted["category"],
            "pred": voted["pred"],
        }
    return voted_rows


def vote_summary(
    greedy_rows: Sequence[dict[str, Any]],
    voted_rows: Sequence[dict[str, Any]],
    votes: Mapping[int, Vote],
    samples: int,
    temperature: float,
) -> dict[str, Any]:
    """The summary's `vote` entry: voted EX with its breakdowns, the paired comparison with
    greedy (voted minus greedy), the mean agreement and the questions where nothing ran."""
    agreement = [vote.agreement for vote in votes.values()]
    return {
        "samples": samples,
        "temperature": temperature,
        **summarize_verdicts(voted_rows),
        "vs_greedy": paired_difference(
            [bool(row["correct"]) for row in greedy_rows],
            [bool(row["correct"]) for row in voted_rows],
        ),
        "mean_agreement": round(sum(agreement) / len(agreement), 4) if agreement else 0.0,
        "no_executable_answer": sum(1 for vote in votes.values() if vote.votes == 0),
    }
