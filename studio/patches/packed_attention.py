"""Padding-free packed SFT: examples share a row, never each other's attention.

With `packing: true` TRL packs the tokenized examples into bins of `cutoff_len` tokens
(best-fit decreasing) and its padding-free collator flattens each micro-batch into one
row whose `position_ids` restart at 0 for every example. This module supplies the
attention for such rows, `sdpa_packed`: torch's flash varlen kernel over the row on a GPU
(SDPA once per example elsewhere), causal, with no mask, so no token sees another example
and there is no padding row at all. Padded rows are what turned bf16 SDPA
gradients non-finite on the H100 (docs/TRAINING.md), and padding is wasted compute.

The example boundaries reach the attention as plain Python ints (`packed_bounds`, added
to each batch by `BoundsCollator`), so no layer has to read them back from the GPU.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Sequence
from typing import Any

PACKED_ATTENTION = "sdpa_packed"
BOUNDS_KEY = "packed_bounds"


def packed_sdpa_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Causal attention per packed example; query/key/value are (1, heads, tokens, head_dim).

    On a GPU whose torch has `varlen_attn` one flash-varlen kernel covers the whole row;
    elsewhere SDPA runs once per example. Without `packed_bounds` a single unpadded row is
    one example; a padded batch is refused (no mask is built, so padding would be attended).
    """
    bounds: Sequence[int] | None = kwargs.get(BOUNDS_KEY)
    if bounds is None:
        if query.shape[0] != 1 or attention_mask is not None:
            raise RuntimeError(
                f"attention '{PACKED_ATTENTION}' only runs packed, unpadded rows (packing: true)"
            )
        bounds = (0, query.shape[2])
    if query.shape[2] != key.shape[2]:
        raise RuntimeError(
            f"attention '{PACKED_ATTENTION}' is for training forwards, not cached generation"
        )
    if query.is_cuda and dropout == 0.0 and _varlen() is not None:
        return _varlen_attention(query, key, value, bounds, scaling), None
    return _per_example_attention(module, query, key, value, bounds, dropout, scaling), None


def _per_example_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    bounds: Sequence[int],
    dropout: float,
    scaling: float | None,
) -> Any:
    import torch

    gqa = key.shape[1] != query.shape[1]
    dropout_p = dropout if module.training else 0.0
    pieces = [
        torch.nn.functional.scaled_dot_product_attention(
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            dropout_p=dropout_p,
            scale=scaling,
            is_causal=True,
            enable_gqa=gqa,
        )
        for start, end in itertools.pairwise(bounds)
        if end > start
    ]
    output = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)
    return output.transpose(1, 2).contiguous()


@functools.cache
def _varlen() -> tuple[Callable[..., Any], frozenset[str]] | None:
    """torch's flash varlen kernel and its keyword names (they changed between torch releases)."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn, frozenset(inspect.signature(varlen_attn).parameters)


def _varlen_attention(
    query: Any, key: Any, value: Any, bounds: Sequence[int], scaling: float | None
) -> Any:
    """One flash-varlen call over the row: (1, heads, tokens, dim) in, (1, tokens, heads, dim)
    out."""
    import torch

    varlen_attn, names = _varlen()
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # (tokens, heads, dim)
    options: dict[str, Any] = (
        {"is_causal": True} if "is_causal" in names else {"window_size": (-1, 0)}
    )
    if scaling is not None and "scale" in names:
        options["scale"] = scaling
    if k.shape[1] != q.shape[1]:
        if "enable_gqa" in names:
            options["enable_gqa"] = True
        else:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    cumulative = torch.tensor(bounds, dtype=torch.int32, device=q.device)
    longest = max(end - start for start, end in itertools.pairwise(bounds))
    return varlen_attn(q, k, v, cumulative, cumulative, longest, longest, **options)[None]


def register_packed_attention() -> None:
    """Make `attn_implementation="sdpa_packed"` known to transformers (idempotent)."""
    from transformers import AttentionInterface

    AttentionInterface.register(PACKED_ATTENTION, packed_sdpa_attention)


class BoundsCollator:
    """Wraps TRL's padding-free collator: adds the example boundaries as a tuple of ints."""

    def __init__(self, collator: Callable[[list[Any]], dict[str, Any]]) -> None:
        self.collator = collator

    def __call__(self, examples: list[Any]) -> dict[str, Any]:
        batch = self.collator(examples)
        boundaries = batch.get("cu_seq_lens_q")
        if boundaries is None:
            raise RuntimeError(
                "packing expects TRL's padding-free collator (cu_seq_lens_q missing)"
            )
        batch[BOUNDS_KEY] = tuple(int(b) for b in boundaries.tolist())
        return batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collator, name)
