"""The statistics behind every EX figure: a bootstrap interval per run, and the paired
bootstrap difference with McNemar's exact test for two runs on the same questions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from studio.errors import StudioError

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def percentage(correct: int, total: int) -> float:
    """correct / total as a percentage rounded to 2 decimals (0.0 when total is 0)."""
    return round(100.0 * correct / total, 2) if total else 0.0


def bootstrap_ci95(
    correct: Sequence[bool], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> list[float]:
    """95 % percentile-bootstrap interval of EX (in %) over questions: `resamples` resamples of
    the questions with replacement, fixed seed, so the same verdicts give the same interval."""
    import numpy as np

    if not correct:
        return [0.0, 0.0]
    values = np.asarray(correct, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [round(100.0 * float(low), 2), round(100.0 * float(high), 2)]


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
    """Two-sided exact McNemar p-value: a binomial(gained + lost, 1/2) test of the discordant
    pairs, to 4 significant digits (a tiny p stays above zero)."""
    total = gained + lost
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(min(gained, lost) + 1)) / 2.0**total
    return float(f"{min(1.0, 2.0 * tail):.4g}")
