"""The studio's lean experts function (studio.patches.moe_experts) against transformers' own, on CPU
(its parity on the tiny Qwen3-MoE is in tests/patches/test_parity.py): bias, gate and layout
variants, what it keeps for the backward, chosen by load_base for MoE models only, and
bench/gpu/bench_experts.py measuring it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import PretrainedConfig
from transformers.integrations.moe import ALL_EXPERTS_FUNCTIONS, use_experts_implementation
from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeSparseMoeBlock

from studio.errors import StudioError
from studio.patches.moe_experts import (
    LEAN_EXPERTS,
    experts_in_use,
    recompute_input_projections,
    register_lean_experts,
)
from studio.testing.random_models import random_config
from studio.train.config import TrainConfig, config_from_mapping
from studio.train.keys import EXPERTS_IMPLEMENTATIONS
from studio.train.policy import experts_implementation, load_base

from .conftest import new_run, read_summary

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "gpu" / "bench_experts.py"
# max |difference| / max |reference| allowed against transformers' grouped_mm
TOLERANCE = {torch.float32: 1e-6, torch.bfloat16: 1e-2}

register_lean_experts()


def max_rel_diff(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got.float() - want.float()).abs().max() / want.float().abs().max()).item()


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


def routed_inputs(
    block: Qwen3MoeSparseMoeBlock, tokens: int, dtype: torch.dtype, hidden: int
) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(tokens)
    x = torch.randn(tokens, hidden, generator=generator).to(dtype)
    with torch.no_grad():
        _, weights, index = block.gate(x)
    grad_out = torch.randn(tokens, hidden, generator=generator).to(dtype)
    return x, index, weights, grad_out


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize(("has_gate", "is_transposed"), [(True, True), (False, False)])
def test_honours_bias_gate_and_layout_attributes(
    has_gate: bool, is_transposed: bool, frozen: bool
) -> None:
    experts_count, hidden, inner, tokens = 4, 32, 16, 23

    @use_experts_implementation(has_bias=True, has_gate=has_gate, is_transposed=is_transposed)
    class Experts(torch.nn.Module):
        def __init__(self, config: PretrainedConfig) -> None:
            super().__init__()
            self.num_experts = experts_count
            self.act_fn = torch.nn.functional.silu
            up = 2 * inner if has_gate else inner
            shapes = {
                "gate_up_proj" if has_gate else "up_proj": (up, hidden),
                "down_proj": (hidden, inner),
            }
            for name, (rows, cols) in shapes.items():
                shape = (
                    (experts_count, cols, rows) if is_transposed else (experts_count, rows, cols)
                )
                setattr(self, name, torch.nn.Parameter(torch.randn(shape) * 0.2))
                setattr(
                    self, f"{name}_bias", torch.nn.Parameter(torch.randn(experts_count, rows) * 0.2)
                )

        def forward(self, *args: Any) -> torch.Tensor:
            raise NotImplementedError("dispatched on config._experts_implementation")

    torch.manual_seed(1)
    experts = Experts(PretrainedConfig()).requires_grad_(
        not frozen
    )  # frozen: the recomputing Function
    generator = torch.Generator().manual_seed(2)
    x, grad_out = torch.randn(2, tokens, hidden, generator=generator)
    index = torch.rand(tokens, experts_count, generator=generator).topk(2, dim=-1).indices
    weights = torch.rand(tokens, 2, generator=generator)
    lean = run_experts(experts, LEAN_EXPERTS, x, index, weights, grad_out)
    for impl in ("grouped_mm", "batched_mm"):
        reference = run_experts(experts, impl, x, index, weights, grad_out)
        assert lean.keys() == reference.keys()
        for name, value in reference.items():
            if value is None:  # a frozen parameter
                assert frozen and lean[name] is None, name
                continue
            assert max_rel_diff(lean[name], value) <= 1e-5, (impl, name)


def saved_activations(
    run: Callable[[], torch.Tensor], module: torch.nn.Module
) -> tuple[int, tuple[int, ...]]:
    """The activations autograd keeps for the backward while `run` builds its graph (the
    module's own parameters left out): total bytes of their storages, the largest one's shape."""
    parameters = {p.untyped_storage().data_ptr() for p in module.parameters()}
    saved: list[torch.Tensor] = []

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.untyped_storage().data_ptr() not in parameters:
            saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        run()
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in saved}
    return sum(storages.values()), tuple(max(saved, key=torch.Tensor.numel).shape)


def frozen_block(dtype: torch.dtype) -> tuple[Qwen3MoeSparseMoeBlock, Any]:
    """The tiny Qwen3-MoE sparse block with random weights, frozen (LoRA elsewhere: no expert
    gradient)."""
    config = random_config("tiny-qwen3-moe")
    torch.manual_seed(0)
    block = Qwen3MoeSparseMoeBlock(config).to(dtype)
    for parameter in block.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    return block.requires_grad_(False), config


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_frozen_experts_keep_only_the_input_projection_for_the_backward(dtype: torch.dtype) -> None:
    block, config = frozen_block(dtype)
    tokens, top_k = 97, config.num_experts_per_tok
    x, index, weights, grad_out = routed_inputs(block, tokens, dtype, config.hidden_size)
    lean = run_experts(block.experts, LEAN_EXPERTS, x, index, weights, grad_out)
    reference = run_experts(block.experts, "grouped_mm", x, index, weights, grad_out)
    assert torch.equal(lean["out"], reference["out"])
    for name in ("x", "weights"):
        assert max_rel_diff(lean[name], reference[name]) <= TOLERANCE[dtype], name

    def forward(impl: str) -> Callable[[], torch.Tensor]:
        block.experts.config._experts_implementation = impl
        return lambda: block.experts(
            x.clone().requires_grad_(), index, weights.clone().requires_grad_()
        )

    lean_bytes, lean_largest = saved_activations(forward(LEAN_EXPERTS), block)
    reference_bytes, _ = saved_activations(forward("grouped_mm"), block)
    assert lean_largest == (tokens * top_k, 2 * config.moe_intermediate_size)  # the gate/up output
    # grouped_mm also keeps the activation's [S, inner] output and the down projection's
    # [S, hidden] one
    assert lean_bytes < 0.6 * reference_bytes


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_recomputing_frozen_experts_keep_only_their_input_with_the_same_results(
    dtype: torch.dtype,
) -> None:
    block, config = frozen_block(dtype)
    x, index, weights, grad_out = routed_inputs(block, 97, dtype, config.hidden_size)

    def forward() -> torch.Tensor:
        return block.experts(x.clone().requires_grad_(), index, weights.clone().requires_grad_())

    keeping = run_experts(block.experts, LEAN_EXPERTS, x, index, weights, grad_out)
    keeping_bytes, keeping_largest = saved_activations(forward, block)
    assert recompute_input_projections(block) == 1
    recomputing = run_experts(block.experts, LEAN_EXPERTS, x, index, weights, grad_out)
    recomputing_bytes, recomputing_largest = saved_activations(forward, block)
    for name in ("out", "x", "weights"):  # the same operations on the same rows
        assert torch.equal(recomputing[name], keeping[name]), name
    assert keeping_largest == (97 * config.num_experts_per_tok, 2 * config.moe_intermediate_size)
    assert recomputing_largest == (97, config.hidden_size)  # the experts' input
    assert recomputing_bytes < keeping_bytes


def lora_loss_and_grads(
    model: Any, impl: str, ids: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.set_experts_implementation(impl)
    model.zero_grad(set_to_none=True)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    return loss.detach(), {name: p.grad for name, p in model.named_parameters() if p.requires_grad}


def test_whole_tiny_moe_with_lora_gets_the_same_loss_and_grads(
    tiny_config: Callable[..., TrainConfig], tiny_qwen3_moe_dir: Path
) -> None:
    from peft import LoraConfig, get_peft_model

    base = load_base(tiny_config(model_name_or_path=str(tiny_qwen3_moe_dir)))
    # init_lora_weights=False: lora_B random, not zero, so lora_A gets a gradient too
    model = get_peft_model(
        base,
        LoraConfig(
            r=8, lora_alpha=16, target_modules=["q_proj", "k_proj"], init_lora_weights=False
        ),
    )
    ids = torch.randint(0, 1000, (2, 48), generator=torch.Generator().manual_seed(3))
    lean_loss, lean_grads = lora_loss_and_grads(model, LEAN_EXPERTS, ids)
    loss, grads = lora_loss_and_grads(model, "grouped_mm", ids)
    assert lean_grads.keys() == grads.keys() and len(grads) == 4 * base.config.num_hidden_layers
    torch.testing.assert_close(lean_loss, loss, rtol=1e-6, atol=0)
    for name, grad in grads.items():
        assert grad.abs().max() > 0
        assert max_rel_diff(lean_grads[name], grad) <= 1e-5, name


def test_load_base_picks_the_lean_experts_for_moe_only(
    tiny_config: Callable[..., TrainConfig], tiny_qwen3_moe_dir: Path, tiny_qwen2_dir: Path
) -> None:
    from transformers import AutoModelForCausalLM

    moe = load_base(tiny_config(model_name_or_path=str(tiny_qwen3_moe_dir)))
    assert experts_in_use(moe) == LEAN_EXPERTS
    assert moe.model.layers[0].mlp.experts.config._experts_implementation == LEAN_EXPERTS
    chosen = load_base(
        tiny_config(model_name_or_path=str(tiny_qwen3_moe_dir), experts_implementation="grouped_mm")
    )
    assert experts_in_use(chosen) == "grouped_mm"
    dense_cfg = tiny_config(experts_implementation="batched_mm")
    dense = load_base(dense_cfg)
    assert experts_implementation(dense_cfg, dense.config) is None and experts_in_use(dense) is None
    plain = AutoModelForCausalLM.from_pretrained(
        tiny_qwen2_dir, dtype=torch.float32, attn_implementation="sdpa"
    )
    assert dense.config._experts_implementation == plain.config._experts_implementation


def test_experts_implementation_key_accepts_only_known_names() -> None:
    assert set(EXPERTS_IMPLEMENTATIONS) - {"auto", "eager"} <= set(ALL_EXPERTS_FUNCTIONS)
    assert config_from_mapping({"dataset": "a"}).experts_implementation == "auto"
    with pytest.raises(
        StudioError,
        match="config key 'experts_implementation': 'sonicmoe' is not accepted; "
        "use one of auto, eager, grouped_mm, batched_mm, studio_grouped_mm",
    ):
        config_from_mapping({"dataset": "a", "experts_implementation": "sonicmoe"})


def test_an_sft_run_of_the_tiny_moe_records_the_lean_experts(
    toy_workspace: Any, tiny_config: Callable[..., TrainConfig], tiny_qwen3_moe_dir: Path
) -> None:
    from studio.train.worker import train

    run_dir = new_run(
        toy_workspace, tiny_config(model_name_or_path=str(tiny_qwen3_moe_dir), max_steps=1)
    )
    train(run_dir)
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded" and summary["experts_implementation"] == LEAN_EXPERTS
    assert summary["patches"] == ["fused_rms_norm", "lean_moe_experts", "atomic_checkpoints"]


def test_bench_experts_prints_one_line_per_implementation_on_cpu() -> None:
    command = [
        sys.executable,
        str(BENCH),
        "--arch",
        "tiny-qwen3-moe",
        "--device",
        "cpu",
        "--tokens",
        "64",
        "--iters",
        "2",
        "--warmup",
        "1",
        "--impls",
        f"{LEAN_EXPERTS},batched_mm,eager",
    ]
    done = subprocess.run(
        command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [line["experts_implementation"] for line in lines] == [
        "grouped_mm",
        LEAN_EXPERTS,
        "batched_mm",
        "eager",
    ]
    for line in lines:
        assert line["figure"] == "moe_experts" and line["status"] == "ok" and line["tokens"] == 64
        assert 0 < line["min_ms"] <= line["median_ms"] and line["peak_extra_mib"] is None
        assert line["max_abs_diff_out"] <= 1e-5  # float32 on the CPU: outputs agree to rounding
        assert line["max_abs_diff_grad"] <= 2e-2 * line["ref_max_abs_grad"]
    assert (
        lines[0]["max_abs_diff_out"] == lines[0]["max_abs_diff_grad"] == 0.0
    )  # the reference itself
    assert lines[1]["max_abs_diff_out"] == 0.0
