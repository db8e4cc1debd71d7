"""Paired comparison of two runs: bootstrap of the EX difference and McNemar's exact test."""

from __future__ import annotations

import math

import pytest

from studio.errors import StudioError
from studio.evaluate.statistics import mcnemar_exact_p, paired_difference


def test_mcnemar_exact_p_matches_the_binomial_tail() -> None:
    # 10 questions only the second model gets right, 2 only the first:
    # 2 * P(X <= 2), X ~ Bin(12, 1/2)
    assert mcnemar_exact_p(10, 2) == float(f"{2 * (1 + 12 + 66) / 4096:.4g}") == 0.03857
    # a tiny p keeps its magnitude instead of rounding to zero
    assert mcnemar_exact_p(50, 14) == float(
        f"{2 * sum(math.comb(64, k) for k in range(15)) / 2**64:.4g}"
    )
    assert 0 < mcnemar_exact_p(200, 0) < 1e-50
    assert mcnemar_exact_p(5, 5) == 1.0 and mcnemar_exact_p(0, 0) == 1.0


def test_a_shared_majority_makes_the_paired_interval_tight() -> None:
    # 1,000 questions: both right on 600, both wrong on 370, 25 gained and 5 lost by the
    # second model
    first = [True] * 600 + [False] * 370 + [False] * 25 + [True] * 5
    second = [True] * 600 + [False] * 370 + [True] * 25 + [False] * 5
    result = paired_difference(first, second)
    assert result["difference"] == 2.0 and (result["gained"], result["lost"]) == (25, 5)
    low, high = result["ci95"]
    assert 0.0 < low < 2.0 < high < 4.0  # well away from 0, unlike two separate ~6-point intervals
    assert result["mcnemar_p"] < 0.001


def test_different_question_lists_are_refused() -> None:
    with pytest.raises(StudioError, match="same, non-empty list of questions"):
        paired_difference([True], [True, False])
