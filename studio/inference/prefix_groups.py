"""Group tokenized prompts that start alike, so a shared prefix is computed once.

Text-to-SQL prompts put the instructions and the database schema before the question, so
every question on one database shares a few hundred leading tokens. Sorting the prompts
puts such runs next to each other; a run is cut wherever two neighbours share fewer than
a threshold's tokens, the threshold being the one that saves the most prefill tokens.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD_CANDIDATES = 16  # quantiles of the neighbours' shared lengths tried as cut thresholds


@dataclass(frozen=True)
class PrefixGroup:
    """Prompts (indices) whose first `length` tokens are the same; each has at least one token
    more."""

    length: int
    members: tuple[int, ...]


def common_prefix_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


def group_by_prefix(encoded: Sequence[Sequence[int]]) -> list[PrefixGroup]:
    """Prompts grouped by shared leading tokens; every prompt is in exactly one group.

    A group's `length` is the prefix all its members share, capped so each member keeps at
    least one token of its own (the model must see a last token to answer). Singletons get
    length 0. The grouping maximises the prefill tokens saved, (members - 1) x length summed.
    """
    order = sorted(range(len(encoded)), key=lambda i: list(encoded[i]))
    shared = [common_prefix_length(encoded[a], encoded[b]) for a, b in itertools.pairwise(order)]
    lengths = [len(encoded[i]) for i in order]
    candidates = [_cut(shared, lengths, t) for t in _thresholds(shared)]
    spans = max(candidates, key=_saved, default=[(k, k + 1, 0) for k in range(len(order))])
    return [PrefixGroup(length, tuple(order[start:end])) for start, end, length in spans]


def _thresholds(shared: list[int]) -> list[int]:
    values = sorted({v for v in shared if v > 0})
    if len(values) <= THRESHOLD_CANDIDATES:
        return values
    step = len(values) / THRESHOLD_CANDIDATES
    return sorted({values[int(k * step)] for k in range(THRESHOLD_CANDIDATES)})


def _cut(shared: list[int], lengths: list[int], threshold: int) -> list[tuple[int, int, int]]:
    """Spans (start, end, prefix length) of the sorted order, cut where neighbours share <
    threshold."""
    spans: list[tuple[int, int, int]] = []
    start = 0
    for end in range(1, len(lengths) + 1):
        if end == len(lengths) or shared[end - 1] < threshold:
            if end - start == 1:
                spans.append((start, end, 0))
            else:
                prefix = min(min(shared[start : end - 1]), min(lengths[start:end]) - 1)
                spans.append((start, end, max(prefix, 0)))
            start = end
    return spans


def _saved(spans: list[tuple[int, int, int]]) -> int:
    return sum((end - start - 1) * length for start, end, length in spans)
