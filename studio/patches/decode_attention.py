"""Attention for cached decoding: grouped-query attention without copying the KV cache per head.

transformers' SDPA path, given a padding mask, first repeats each key/value head for every
query head it serves (`repeat_kv`): for a batch of a thousand answers over long schema
prompts that copy, made in every layer at every step, costs more than the attention itself.
Here one new query token per row is multiplied against the shared key/value heads directly;
prompt prefills (several query tokens) still go through SDPA.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

DECODE_ATTENTION = "sdpa_decode"


def decode_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """query (batch, heads, 1, dim) against key/value (batch, kv_heads, length, dim); SDPA for
    longer queries."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.shape[2] != 1 or dropout != 0.0:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    scale = scaling if scaling is not None else dim**-0.5
    grouped = query.reshape(
        batch, kv_heads, heads // kv_heads, dim
    )  # query head h reads kv head h // group
    scores = (
        torch.matmul(grouped, key.transpose(-1, -2)).float() * scale
    )  # (batch, kv_heads, group, length)
    if attention_mask is not None:
        scores = (
            scores.masked_fill(~attention_mask, float("-inf"))
            if attention_mask.dtype == torch.bool
            else scores + attention_mask.float()
        )
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    output = torch.matmul(probs, value).reshape(batch, heads, 1, dim)
    return output.transpose(1, 2).contiguous(), None


def register_decode_attention() -> None:
    """Make `sdpa_decode` known to transformers, with SDPA's mask format (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(DECODE_ATTENTION, decode_attention)
    AttentionMaskInterface.register(DECODE_ATTENTION, sdpa_mask)


@contextlib.contextmanager
def decode_attention_in(model: Any) -> Iterator[None]:
    """`model` (loaded with SDPA) attends with `sdpa_decode` for the duration of the block."""
    register_decode_attention()
    previous = model.config._attn_implementation
    model.set_attn_implementation(DECODE_ATTENTION)
    try:
        yield
    finally:
        model.set_attn_implementation(previous)
