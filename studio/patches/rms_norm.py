"""RMSNorm for training that keeps its bf16 input for the backward instead of the fp32 upcast.

The Qwen2 / Qwen3 / Qwen3-MoE RMSNorm upcasts its input to fp32 and autograd keeps that
upcast for the backward: twice the input's size, four times a decoder layer (input and
post-attention norms, and Qwen3's per-head query and key norms), and it runs as ~8 separate
kernels forward and more backward. The lean forward:

* on CUDA, torch's fused RMSNorm kernel (`F.rms_norm`: one kernel each way, fp32 inside,
  keeping the input and one fp32 scale per row), then the weight as transformers applies it,
  with or without gradients (a DPO reference pass must round as the policy does). About one
  output element in a million rounds to the neighbouring bf16 value and the gradients agree
  to bf16 rounding; a norm is 3-6x faster forward and backward (bench/gpu/bench_norms.py).
* elsewhere, the same operations as transformers' (without gradients, transformers' own
  forward; with them, an autograd Function that keeps the input and recomputes the rest in
  the backward): the upcast of a bf16 tensor is exact, so output and gradients are
  bit-identical.

Either way a norm keeps its input, not the fp32 upcast: 0.165 GiB less per layer of
Qwen3-30B-A3B at 8 k tokens (bench/bench_layer_memory.py), which matters where a layer keeps
its activations (`gradient_checkpointing_skip_layers`). Only models loaded for training get
it (`fused_rms_norm: true`, the default); evaluation and generation load theirs with
transformers' norm.
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# model_type -> its transformers RMSNorm class, whose forward is exactly `rms_norm` below
QWEN_MODEL_TYPES = {
    "qwen2": "Qwen2RMSNorm",
    "qwen3": "Qwen3RMSNorm",
    "qwen3_moe": "Qwen3MoeRMSNorm",
}
QWEN_RMS_NORMS = frozenset(QWEN_MODEL_TYPES.values())


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen RMSNorm forward, operation for operation."""
    hidden = x.to(torch.float32)
    variance = hidden.pow(2).mean(-1, keepdim=True)
    hidden = hidden * torch.rsqrt(variance + eps)
    return weight * hidden.to(x.dtype)


class _LeanRMSNorm(torch.autograd.Function):
    """`rms_norm` keeping only its input and weight; the backward recomputes and differentiates
    it."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.eps = eps
        return rms_norm(x, weight, eps)

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad[:2]
        with torch.enable_grad():
            x, weight = (
                x.detach().requires_grad_(needs[0]),
                weight.detach().requires_grad_(needs[1]),
            )
            out = rms_norm(x, weight, ctx.eps)
        wanted = [tensor for tensor, need in zip((x, weight), needs, strict=True) if need]
        found = iter(torch.autograd.grad(out, wanted, grad))
        return (next(found) if needs[0] else None), (next(found) if needs[1] else None), None


def fused_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """`rms_norm` through torch's fused kernel, run in x's dtype (autocast would upcast it to
    fp32)."""
    with torch.autocast(x.device.type, enabled=False):
        return weight * F.rms_norm(x, (x.size(-1),), eps=eps)


def _lean_forward(self: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    if (
        hidden_states.is_cuda
    ):  # with or without gradients: a DPO reference pass rounds as the policy does
        return fused_rms_norm(hidden_states, self.weight, self.variance_epsilon)
    if not torch.is_grad_enabled():
        return type(self).forward(self, hidden_states)  # transformers' own
    return _LeanRMSNorm.apply(hidden_states, self.weight, self.variance_epsilon)


def lean_rms_norms(module: nn.Module) -> int:
    """Give every Qwen RMSNorm inside `module` the lean forward (idempotent); how many there are.
    The studio does so for every model it trains unless `fused_rms_norm: false`
    (studio.patches.registry)."""
    norms = [m for m in module.modules() if type(m).__name__ in QWEN_RMS_NORMS]
    for norm in norms:
        norm.forward = types.MethodType(_lean_forward, norm)
    return len(norms)
