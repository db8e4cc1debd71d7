"""A lean grouped-GEMM experts forward for training Mixture-of-Experts models (Qwen3-MoE).

transformers' `grouped_mm` experts function runs two grouped matmuls, and around them
masks expert-parallel sentinel rows three times over [S, hidden] tensors (S = tokens x
top_k) and moves rows by advanced indexing, whose backward is a sort-based
`index_put_(accumulate=True)`. `studio_grouped_mm` keeps the matmuls and the numerics (the
same sort, the same fp32-accumulated sum over each token's top_k experts) and drops the rest:

* the token gather and the final combine are two autograd Functions, each the other's
  adjoint: gather = `index_select` of token rows, combine = rows put back in token order and
  summed per token. Each one's backward is the other's forward, so no backward scatters
  into an [S, hidden] tensor and the input gradient is deterministic.
* no sentinel masks: expert parallelism is not supported. It marks the experts of other
  ranks with the id `num_experts`, which this forward does not skip. The studio never
  shards experts (one GPU, or FSDP / ZeRO-3, where every rank runs every expert), so every
  id is a real expert and the grouped matmuls write every row.
* when the expert weights are frozen (LoRA elsewhere, the studio's MoE recipe), each row's
  MLP and routing-weight scaling is one autograd Function that keeps only the input
  projection's [S, 2 x inner] output for the backward. The activation is recomputed there, and
  the routing weights' gradient is taken from the inner side (`<grad @ down^T, activation>`),
  so neither the [S, inner] activation nor the [S, hidden] down output is kept: 0.34 GiB less
  per layer at 8 k tokens on Qwen3-30B-A3B (bench/bench_layer_memory.py), the memory that
  decides how many layers can skip gradient checkpointing. The output is bit-identical; the
  gradients agree to rounding.
* in the layers that skip gradient checkpointing (`recompute_input_projections`), the frozen
  experts keep only their [T, H] input: the gather and the input projection run again in the
  backward, 0.156 GiB less per layer at 8 k tokens.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

LEAN_EXPERTS = "studio_grouped_mm"
# experts-module attribute: frozen experts keep only their input for the backward
# (`recompute_input_projections`)
RECOMPUTE_INPUT_PROJECTION = "studio_recompute_input_projection"


def _combine(rows: torch.Tensor, inv_perm: torch.Tensor, top_k: int) -> torch.Tensor:
    """Expert-sorted rows [S, H] -> per-token sums [T, H]; torch sums bf16 in fp32, rounding
    once."""
    return rows.index_select(0, inv_perm).view(-1, top_k, rows.size(-1)).sum(dim=1)


class _Gather(torch.autograd.Function):
    """x [T, H] -> its rows in expert order [S, H]; the backward is `_combine`."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, token_of_row: torch.Tensor, inv_perm: torch.Tensor, top_k: int
    ) -> torch.Tensor:
        ctx.save_for_backward(inv_perm)
        ctx.top_k = top_k
        return x.index_select(0, token_of_row)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (inv_perm,) = ctx.saved_tensors
        return _combine(grad, inv_perm, ctx.top_k), None, None, None


class _Combine(torch.autograd.Function):
    """Expert-sorted rows [S, H] -> per-token sums [T, H]; the backward is the gather."""

    @staticmethod
    def forward(
        ctx: Any, rows: torch.Tensor, token_of_row: torch.Tensor, inv_perm: torch.Tensor, top_k: int
    ) -> torch.Tensor:
        ctx.save_for_backward(token_of_row)
        return _combine(rows, inv_perm, top_k)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (token_of_row,) = ctx.saved_tensors
        return grad.index_select(0, token_of_row), None, None, None


@functools.cache
def _native_grouped_mm() -> Callable[..., torch.Tensor] | None:
    return getattr(torch.nn.functional, "grouped_mm", None) or getattr(torch, "_grouped_mm", None)


@functools.cache
def _cuda_capability(index: int) -> tuple[int, int]:
    return torch.cuda.get_device_capability(index)


def _grouped_mm(x: torch.Tensor, weight: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """x [S, in] @ weight [E, in, out] per expert group: torch's kernel (CPU, or CUDA sm80+),
    else transformers' dispatcher (its per-expert loop)."""
    native = _native_grouped_mm()
    if native is None or (x.is_cuda and _cuda_capability(x.get_device()) < (8, 0)):
        from transformers.integrations.moe import _grouped_mm as dispatcher

        return dispatcher(x, weight, offsets)
    return native(x.to(weight.dtype), weight, offs=offsets)


def _grouped_linear(
    module: Any, name: str, x: torch.Tensor, offsets: torch.Tensor, expert_of_row: torch.Tensor
) -> torch.Tensor:
    """x [S, in] through the experts' projection `name` (and its bias when the module has
    biases)."""
    weight = getattr(module, name)
    out = _grouped_mm(x, weight if module.is_transposed else weight.transpose(-2, -1), offsets)
    if module.has_bias:
        out.add_(getattr(module, f"{name}_bias").index_select(0, expert_of_row))
    return out


def _activation(module: Any, projected: torch.Tensor) -> torch.Tensor:
    return module._apply_gate(projected) if module.has_gate else module.act_fn(projected)


def _input_projection(module: Any) -> str:
    return "gate_up_proj" if module.has_gate else "up_proj"


def _project_in(
    module: Any, rows: torch.Tensor, offsets: torch.Tensor, expert_of_row: torch.Tensor
) -> torch.Tensor:
    """rows [S, H] through each row's expert input projection (gate/up, or up), before the
    activation."""
    return _grouped_linear(module, _input_projection(module), rows, offsets, expert_of_row)


def _project_out(
    module: Any,
    projected: torch.Tensor,
    row_weights: torch.Tensor,
    offsets: torch.Tensor,
    expert_of_row: torch.Tensor,
) -> torch.Tensor:
    """The activation of `projected`, the down projection, each row scaled by its routing weight."""
    down = _grouped_linear(
        module, "down_proj", _activation(module, projected), offsets, expert_of_row
    )
    return down * row_weights.unsqueeze(-1)


def _transposed_weight(module: Any, name: str) -> torch.Tensor:
    """The [E, out, in] weight whose grouped product maps a gradient of `name`'s output to its
    input."""
    weight = getattr(module, name)
    return weight.transpose(-2, -1) if module.is_transposed else weight


class _FrozenExpertMLP(torch.autograd.Function):
    """Token rows gathered in expert order, each through its frozen expert's MLP and scaled by its
    routing weight: x [T, H] -> [S, H]. Keeps the input projection's [S, 2 x inner] output for the
    backward or, with `recompute`, only x: the gather and the input projection run again there."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        row_weights: torch.Tensor,
        module: Any,
        offsets: torch.Tensor,
        expert_of_row: torch.Tensor,
        token_of_row: torch.Tensor,
        inv_perm: torch.Tensor,
        top_k: int,
        recompute: bool,
    ) -> torch.Tensor:
        projected = _project_in(module, x.index_select(0, token_of_row), offsets, expert_of_row)
        ctx.save_for_backward(
            x if recompute else projected,
            row_weights,
            offsets,
            expert_of_row,
            token_of_row,
            inv_perm,
        )
        ctx.module, ctx.x_dtype, ctx.top_k, ctx.recompute = module, x.dtype, top_k, recompute
        return _project_out(module, projected, row_weights, offsets, expert_of_row)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        kept, row_weights, offsets, expert_of_row, token_of_row, inv_perm = ctx.saved_tensors
        module = ctx.module
        projected = (
            _project_in(module, kept.index_select(0, token_of_row), offsets, expert_of_row)
            if ctx.recompute
            else kept
        )
        weight_dtype = module.down_proj.dtype
        # d(out)/d(inner) = grad @ down^T scaled by the row's weight;
        # d(out)/d(weight) = <grad @ down^T, inner> (+ <grad, bias>): the down output itself is
        # never needed
        grad_inner_unscaled = _grouped_mm(
            grad.to(weight_dtype), _transposed_weight(module, "down_proj"), offsets
        )
        with torch.enable_grad():
            projected = projected.detach().requires_grad_()
            inner = _activation(module, projected)
        grad_weights = None
        if ctx.needs_input_grad[1]:
            grad_weights = (grad_inner_unscaled.float() * inner.detach().float()).sum(-1)
            if module.has_bias:
                bias = module.down_proj_bias.index_select(0, expert_of_row)
                grad_weights = grad_weights + (grad.float() * bias.float()).sum(-1)
            grad_weights = grad_weights.to(row_weights.dtype)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_inner = (grad_inner_unscaled * row_weights.unsqueeze(-1)).to(inner.dtype)
            (grad_projected,) = torch.autograd.grad(inner, projected, grad_inner)
            name = _input_projection(module)
            grad_rows = _grouped_mm(grad_projected, _transposed_weight(module, name), offsets).to(
                ctx.x_dtype
            )
            grad_x = _combine(grad_rows, inv_perm, ctx.top_k)
        return grad_x, grad_weights, None, None, None, None, None, None, None


def _experts_frozen(module: Any) -> bool:
    names = (_input_projection(module), "down_proj")
    biases = tuple(f"{name}_bias" for name in names) if module.has_bias else ()
    return not any(getattr(module, name).requires_grad for name in names + biases)


def lean_experts_forward(
    self: Any, hidden_states: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor
) -> torch.Tensor:
    """The experts module's forward: hidden_states [T, H], top_k_index and top_k_weights [T, k]
    -> [T, H]."""
    top_k = top_k_index.size(-1)
    with torch.no_grad():
        expert_of_row, perm = torch.sort(top_k_index.reshape(-1))
        token_of_row = perm // top_k
        inv_perm = torch.empty_like(perm).scatter_(
            0, perm, torch.arange(perm.numel(), device=perm.device)
        )
        # histc, not bincount: no device sync (CUDA graphs). It takes floats on CPU and MPS, and
        # ints on CUDA under deterministic algorithms (as in transformers' grouped_mm)
        ids = (
            expert_of_row.float()
            if expert_of_row.device.type in ("cpu", "mps")
            else expert_of_row.int()
        )
        rows_per_expert = torch.histc(ids, bins=self.num_experts, min=0, max=self.num_experts - 1)
        offsets = torch.cumsum(rows_per_expert, dim=0, dtype=torch.int32)

    row_weights = top_k_weights.reshape(-1).index_select(0, perm)
    if _experts_frozen(self) and torch.is_grad_enabled():
        weighted = _FrozenExpertMLP.apply(
            hidden_states,
            row_weights,
            self,
            offsets,
            expert_of_row,
            token_of_row,
            inv_perm,
            top_k,
            getattr(self, RECOMPUTE_INPUT_PROJECTION, False),
        )
    else:
        rows = _Gather.apply(hidden_states, token_of_row, inv_perm, top_k)
        weighted = _project_out(
            self,
            _project_in(self, rows, offsets, expert_of_row),
            row_weights,
            offsets,
            expert_of_row,
        )
    return _Combine.apply(weighted, token_of_row, inv_perm, top_k).to(hidden_states.dtype)


def recompute_input_projections(module: torch.nn.Module) -> int:
    """Make the frozen experts inside `module` keep only their [T, H] input for the backward
    instead of the [S, 2 x inner] input projection, run again there (idempotent); how many experts
    modules there are. For layers that keep their activations
    (`gradient_checkpointing_skip_layers`): in a checkpointed layer the projection would run a
    third time."""
    experts = [
        m
        for m in module.modules()
        if hasattr(m, "num_experts")
        and hasattr(m, "down_proj")
        and isinstance(m.down_proj, torch.nn.Parameter)
    ]
    for found in experts:
        setattr(found, RECOMPUTE_INPUT_PROJECTION, True)
    return len(experts)


def register_lean_experts() -> None:
    """Make `experts_implementation="studio_grouped_mm"` known to transformers (idempotent)."""
    from transformers.integrations.moe import ExpertsInterface

    ExpertsInterface.register(LEAN_EXPERTS, lean_experts_forward)


def dispatches_experts(model_config: Any) -> bool:
    """transformers' own test: the modeling file decorates its experts with
    @use_experts_implementation, so an experts function can be chosen for the model."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    model_class = MODEL_FOR_CAUSAL_LM_MAPPING.get(type(model_config), None)
    return model_class is not None and model_class._can_set_experts_implementation()


def experts_in_use(model: Any) -> str | None:
    """The experts function a loaded model runs, or None for a model without dispatching experts."""
    return model.config._experts_implementation if dispatches_experts(model.config) else None
