"""Paired comparison of two evaluation runs on the same questions.

Two models answer the same questions, so their EX difference is judged question by question:
a bootstrap over questions of the difference (both verdicts of a question resampled
together) and McNemar's exact test on the questions where exactly one model is right. Far
tighter than comparing two separate intervals, which ignores that most questions are
answered alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.evaluate.report import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from studio.jobs.rundir import RunDir


def paired_difference(
    first: Sequence[bool],
    second: Sequence[bool],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """EX(second) - EX(first) in points, its 95 % paired-bootstrap interval, the questions each
    model alone got right, and McNemar's exact two-sided p-value."""
    import numpy as np

    if len(first) != len(second) or not first:
        raise StudioError(
            "a paired comparison needs the same, non-empty list of questions in both runs"
        )
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(a), size=(resamples, len(a)))
    differences = (b[samples] - a[samples]).mean(axis=1)
    low, high = np.percentile(differences, [2.5, 97.5])
    gained, lost = int(((b == 1) & (a == 0)).sum()), int(((b == 0) & (a == 1)).sum())
    return {
        "difference": round(100.0 * float(b.mean() - a.mean()), 2),
        "ci95": [round(100.0 * float(low), 2), round(100.0 * float(high), 2)],
        "gained": gained,
        "lost": lost,
        "mcnemar_p": mcnemar_exact_p(gained, lost),
    }


def mcnemar_exact_p(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: a binomial(gained + lost, 1/2) test of the discordant pairs."""
    total = gained + lost
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(min(gained, lost) + 1)) / 2.0**total
    return round(min(1.0, 2.0 * tail), 4)


def paired_runs(first_dir: str | Path, second_dir: str | Path) -> dict[str, Any]:
    """paired_difference of two run folders, matched by the questions' dataset index (the sets must be equal)."""
    first, second = _verdicts(Path(first_dir)), _verdicts(Path(second_dir))
    if set(first) != set(second):
        raise StudioError(
            f"{first_dir} and {second_dir} did not answer the same questions; "
            "compare runs of one dataset with the same limit"
        )
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
