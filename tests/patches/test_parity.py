"""Every kernel of studio.patches against the library path it replaces, on tiny random models on
the CPU: one parametrised test, each case a list of (what, studio's result, the library's, how
close they must be)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM
from transformers.cache_utils import DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm
from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeRMSNorm, Qwen3MoeSparseMoeBlock

from studio.patches.decode_attention import decode_attention, decode_attention_in
from studio.patches.kv_cache import GrowingLayer, growing_cache
from studio.patches.moe_experts import LEAN_EXPERTS, register_lean_experts
from studio.patches.packed_attention import BOUNDS_KEY, PACKED_ATTENTION, register_packed_attention
from studio.patches.rms_norm import lean_rms_norms
from studio.testing.random_models import random_config


@dataclass(frozen=True)
class Exact:
    """Bit for bit."""


@dataclass(frozen=True)
class MaxRelative:
    """max |got - want| / max |want| at most `bound`."""

    bound: float


@dataclass(frozen=True)
class Close:
    """|got - want| <= atol + rtol * |want| everywhere."""

    rtol: float
    atol: float


@dataclass(frozen=True)
class Differs:
    """Not close within `atol`: the library path given something the kernel must not see."""

    atol: float


Tolerance = Exact | MaxRelative | Close | Differs
Comparison = tuple[str, torch.Tensor, torch.Tensor, Tolerance]


def max_rel_diff(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got.float() - want.float()).abs().max() / want.float().abs().max()).item()


def norm_outputs(norm: torch.nn.Module, x: torch.Tensor, grad_out: torch.Tensor) -> list[Any]:
    """Output, input gradient and weight gradient of `norm`, and its output without gradients."""
    norm.weight.grad = None
    x = x.clone().requires_grad_()
    out = norm(x)
    out.backward(grad_out)
    with torch.no_grad():
        no_grad = norm(x)
    return [out.detach(), x.grad, norm.weight.grad, no_grad]


def rms_norm_case(norm_class: type, dtype: torch.dtype) -> list[Comparison]:
    """The lean RMSNorm (studio.patches.rms_norm) against transformers' forward and backward."""
    torch.manual_seed(0)
    hidden = 256
    norm = norm_class(hidden, eps=1e-6).to(dtype)
    torch.nn.init.normal_(norm.weight, mean=1.0, std=0.2)
    x = torch.randn(3, 37, hidden).to(dtype)
    grad_out = torch.randn(3, 37, hidden).to(dtype)
    reference = norm_outputs(norm, x, grad_out)
    assert lean_rms_norms(norm) == 1
    lean = norm_outputs(norm, x, grad_out)
    names = ("out", "x grad", "weight grad", "out without gradients")
    return [(name, *pair, Exact()) for name, *pair in zip(names, lean, reference, strict=True)]


def run_experts(
    experts: torch.nn.Module,
    impl: str,
    x: torch.Tensor,
    index: torch.Tensor,
    weights: torch.Tensor,
    grad_out: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Output and gradients (hidden states, routing weights, expert parameters) under `impl`."""
    experts.config._experts_implementation = impl
    experts.zero_grad(set_to_none=True)
    x, weights = x.clone().requires_grad_(), weights.clone().requires_grad_()
    out = experts(x, index, weights)
    out.backward(grad_out)
    found = {"out": out.detach(), "x": x.grad, "weights": weights.grad}
    return found | {name: p.grad for name, p in experts.named_parameters()}


def moe_experts_case(dtype: torch.dtype, tokens: int, top_k: int) -> list[Comparison]:
    """The lean experts (studio.patches.moe_experts) against transformers' grouped_mm and eager
    experts of the tiny Qwen3-MoE (3 tokens leave most experts without rows)."""
    register_lean_experts()
    config = random_config("tiny-qwen3-moe")
    config.num_experts_per_tok = top_k
    torch.manual_seed(0)
    block = Qwen3MoeSparseMoeBlock(config).to(dtype)
    for parameter in block.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    generator = torch.Generator().manual_seed(tokens)
    x = torch.randn(tokens, config.hidden_size, generator=generator).to(dtype)
    with torch.no_grad():
        _, weights, index = block.gate(x)
    grad_out = torch.randn(tokens, config.hidden_size, generator=generator).to(dtype)
    lean, grouped, eager = (
        run_experts(block.experts, impl, x, index, weights, grad_out)
        for impl in (LEAN_EXPERTS, "grouped_mm", "eager")
    )
    grouped_bound = {torch.float32: 1e-6, torch.bfloat16: 1e-2}[dtype]
    eager_bound = {torch.float32: 1e-5, torch.bfloat16: 2e-2}[
        dtype
    ]  # eager sums in the input dtype
    comparisons: list[Comparison] = [
        ("out vs grouped_mm", lean["out"], grouped["out"], Exact()),  # same sort, same sums
        ("weights grad vs grouped_mm", lean["weights"], grouped["weights"], Exact()),
    ]
    comparisons += [
        (f"{name} vs grouped_mm", lean[name], grouped[name], MaxRelative(grouped_bound))
        for name in ("x", "gate_up_proj", "down_proj")
    ]
    comparisons += [
        (f"{name} vs eager", lean[name], value, MaxRelative(eager_bound))
        for name, value in eager.items()
    ]
    return comparisons


def tiny_model(architecture: str, attention: str) -> torch.nn.Module:
    torch.manual_seed(0)
    config = random_config(architecture)
    config.pad_token_id = 0
    return AutoModelForCausalLM.from_config(
        config, dtype=torch.float32, attn_implementation=attention
    ).eval()


def packed_attention_case() -> list[Comparison]:
    """One packed row under `sdpa_packed` (studio.patches.packed_attention) against each example
    alone under transformers' SDPA; the same row without boundaries is one long sequence."""
    register_packed_attention()
    generator = torch.Generator().manual_seed(0)
    examples = [torch.randint(0, 1000, (n,), generator=generator) for n in (7, 12, 5)]
    reference, packed = tiny_model("tiny-qwen2", "sdpa"), tiny_model("tiny-qwen2", PACKED_ATTENTION)
    with torch.no_grad():
        alone = [reference(ids[None]).logits[0] for ids in examples]
        row = torch.cat(examples)[None]
        positions = torch.cat([torch.arange(len(ids)) for ids in examples])[None]
        bounds = (0, 7, 19, 24)
        together = packed(row, position_ids=positions, **{BOUNDS_KEY: bounds}).logits[0]
        mixed = packed(row, position_ids=torch.arange(24)[None]).logits[0]
    comparisons: list[Comparison] = [
        (f"example {k} logits", together[start:end], logits, Close(rtol=1e-4, atol=1e-4))
        for k, ((start, end), logits) in enumerate(
            zip(itertools.pairwise(bounds), alone, strict=True)
        )
    ]
    comparisons.append(("example 1 seeing example 0", mixed[7:19], alone[1], Differs(atol=1e-3)))
    return comparisons


def decode_case() -> list[Comparison]:
    """`sdpa_decode` (studio.patches.decode_attention) and the growing KV cache
    (studio.patches.kv_cache) against transformers' SDPA and DynamicLayer: one decode step with
    padding and grouped heads, the cache's batch operations, and greedy `generate` of a
    left-padded batch of the tiny Qwen2."""
    torch.manual_seed(0)
    query, key, value = (
        torch.randn(3, 8, 1, 16),
        torch.randn(3, 2, 10, 16),
        torch.randn(3, 2, 10, 16),
    )
    mask = torch.ones(3, 1, 1, 10, dtype=torch.bool)
    mask[0, ..., :4] = False  # a left-padded row
    module = torch.nn.Module()
    module.num_key_value_groups, module.is_causal = 4, True
    expected, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.25)
    got, _ = decode_attention(module, query, key, value, mask, scaling=0.25)
    comparisons: list[Comparison] = [
        ("one decode step", got, expected, Close(rtol=1e-5, atol=1e-5))
    ]

    growing, dynamic = GrowingLayer(capacity=8), DynamicLayer()
    for length in (3, 1, 1):
        k, v = torch.randn(4, 2, length, 5), torch.randn(4, 2, length, 5)
        for layer in (growing, dynamic):
            layer.update(k, v)
    for layer in (growing, dynamic):
        layer.batch_select_indices(torch.tensor([0, 2]))
        layer.batch_repeat_interleave(2)
    comparisons += [
        ("cache keys", growing.keys, dynamic.keys, Exact()),
        ("cache values", growing.values, dynamic.values, Exact()),
    ]

    model = tiny_model("tiny-qwen2", "sdpa")
    ids = torch.randint(1, 1000, (3, 12), generator=torch.Generator().manual_seed(1))
    attention_mask = torch.ones_like(ids)
    attention_mask[0, :5], attention_mask[2, :2] = 0, 0
    ids = ids.masked_fill(attention_mask == 0, 0)
    options = {
        "attention_mask": attention_mask,
        "max_new_tokens": 10,
        "do_sample": False,
        "output_scores": True,
        "return_dict_in_generate": True,
        "pad_token_id": 0,
    }
    with torch.inference_mode():
        library = model.generate(ids, **options)
        with decode_attention_in(model):
            studio = model.generate(
                ids, past_key_values=growing_cache(model.config, 12 + 10), **options
            )
    comparisons += [
        ("generated tokens", studio.sequences, library.sequences, Exact()),
        (
            "generated scores",
            torch.stack(studio.scores),
            torch.stack(library.scores),
            Close(rtol=1e-5, atol=1e-5),
        ),
    ]
    return comparisons


CASES: dict[str, Callable[[], list[Comparison]]] = {
    **{
        f"rms_norm-{norm.__name__}-{str(dtype)[6:]}": lambda n=norm, d=dtype: rms_norm_case(n, d)
        for norm in (Qwen2RMSNorm, Qwen3MoeRMSNorm)
        for dtype in (torch.bfloat16, torch.float32)
    },
    **{
        f"moe_experts-{str(dtype)[6:]}-{tokens}tokens-top{top_k}": (
            lambda d=dtype, t=tokens, k=top_k: moe_experts_case(d, t, k)
        )
        for dtype in (torch.float32, torch.bfloat16)
        for tokens, top_k in ((3, 2), (97, 2), (97, 4))
    },
    "packed_attention": packed_attention_case,
    "decode_attention_and_kv_cache": decode_case,
}


def assert_matches(what: str, got: torch.Tensor, want: torch.Tensor, tolerance: Tolerance) -> None:
    assert got.shape == want.shape, what
    if isinstance(tolerance, Exact):
        assert torch.equal(got, want), what
    elif isinstance(tolerance, MaxRelative):
        assert max_rel_diff(got, want) <= tolerance.bound, what
    elif isinstance(tolerance, Close):
        torch.testing.assert_close(
            got, want, rtol=tolerance.rtol, atol=tolerance.atol, msg=lambda text: f"{what}: {text}"
        )
    else:
        assert not torch.allclose(got, want, atol=tolerance.atol), what


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_matches_the_library_path(case: str) -> None:
    comparisons = CASES[case]()
    assert comparisons
    for what, got, want, tolerance in comparisons:
        assert_matches(what, got, want, tolerance)
