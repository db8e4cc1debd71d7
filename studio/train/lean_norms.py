"""RMSNorm that keeps its bf16 input for the backward instead of the fp32 upcast.

The Qwen2 / Qwen3 / Qwen3-MoE RMSNorm upcasts its input to fp32 and autograd keeps that
upcast for the backward: twice the input's size, four times a decoder layer (input and
post-attention norms, and Qwen3's per-head query and key norms). `lean_rms_norm` runs the
same operations in an autograd Function that keeps the input itself and recomputes the rest
in the backward: the upcast of a bf16 tensor is exact, so output and gradients are
bit-identical, for 0.165 GiB less kept per layer of Qwen3-30B-A3B at 8 k tokens
(bench/bench_layer_memory.py). It matters
where a layer keeps its activations (`gradient_checkpointing_skip_layers`); a checkpointed
layer keeps nothing between its forward and its backward anyway.
"""

from __future__ import annotations

import types
from typing import Any

import torch
from torch import nn

# transformers classes whose forward is exactly `rms_norm` below
QWEN_RMS_NORMS = frozenset({"Qwen2RMSNorm", "Qwen3RMSNorm", "Qwen3MoeRMSNorm"})


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen RMSNorm forward, operation for operation."""
    hidden = x.to(torch.float32)
    variance = hidden.pow(2).mean(-1, keepdim=True)
    hidden = hidden * torch.rsqrt(variance + eps)
    return weight * hidden.to(x.dtype)


class _LeanRMSNorm(torch.autograd.Function):
    """`rms_norm` keeping only its input and weight; the backward recomputes and differentiates it."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.eps = eps
        return rms_norm(x, weight, eps)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad[:2]
        with torch.enable_grad():
            x, weight = x.detach().requires_grad_(needs[0]), weight.detach().requires_grad_(needs[1])
            out = rms_norm(x, weight, ctx.eps)
        wanted = [tensor for tensor, need in zip((x, weight), needs, strict=True) if need]
        found = iter(torch.autograd.grad(out, wanted, grad))
        return (next(found) if needs[0] else None), (next(found) if needs[1] else None), None


def _lean_forward(self: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    if not torch.is_grad_enabled():
        return rms_norm(hidden_states, self.weight, self.variance_epsilon)
    return _LeanRMSNorm.apply(hidden_states, self.weight, self.variance_epsilon)


def lean_rms_norms(module: nn.Module) -> int:
    """Give every Qwen RMSNorm inside `module` the lean forward (idempotent); how many there are."""
    norms = [m for m in module.modules() if type(m).__name__ in QWEN_RMS_NORMS]
    for norm in norms:
        norm.forward = types.MethodType(_lean_forward, norm)
    return len(norms)
