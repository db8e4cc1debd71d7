"""Paired comparison of two evaluation runs on the same questions.

Two models answer the same questions, so their EX difference is judged question by question:
a bootstrap over questions of the difference (both verdicts of a question resampled
together) and McNemar's exact test on the questions where exactly one model is right. Far
tighter than comparing two separate intervals, which ignores that most questions are
answered alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.evaluate.statistics import paired_difference
from studio.jobs.rundir import RunDir


def paired_runs(first_dir: str | Path, second_dir: str | Path) -> dict[str, Any]:
    """paired_difference of two run folders, matched by the questions' dataset index (the sets must
    be equal)."""
    first, second = _verdicts(Path(first_dir)), _verdicts(Path(second_dir))
    if set(first) != set(second):
        raise StudioError(
            f"{first_dir} and {second_dir} did not answer the same questions; "
            "compare runs of one dataset with the same limit"
        )
    return paired_verdicts(first, second)


def paired_verdicts(first: Mapping[str, bool], second: Mapping[str, bool]) -> dict[str, Any]:
    """paired_difference of two runs' verdicts keyed by the same question keys, taken in sorted
    key order (so the bootstrap draws the same resamples for the same runs)."""
    keys = sorted(first)
    return paired_difference([first[k] for k in keys], [second[k] for k in keys])


def _verdicts(run_dir: Path) -> dict[str, bool]:
    path = RunDir(run_dir).verdicts
    if not path.is_file():
        raise StudioError(f"{run_dir} has no {path.name}; score the run first")
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return {str(row["index"]): bool(row["correct"]) for row in rows}
