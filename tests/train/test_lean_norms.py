"""The lean Qwen RMSNorm (studio.patches.rms_norm): keeps only its bf16 input for the backward
(its bit-for-bit parity with transformers' norm is in tests/patches/test_parity.py); given to
every model the studio trains."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from transformers import AutoModelForCausalLM
from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm
from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeRMSNorm

from studio.patches.moe_experts import RECOMPUTE_INPUT_PROJECTION
from studio.patches.partial_checkpointing import decoder_layers, keep_activations
from studio.patches.rms_norm import (
    QWEN_RMS_NORMS,
    _lean_forward,
    fused_rms_norm,
    lean_rms_norms,
    rms_norm,
)
from studio.testing.random_models import random_config
from studio.train.config import TrainConfig
from studio.train.policy import load_base


def kept_bytes(norm: torch.nn.Module, x: torch.Tensor) -> int:
    """The bytes autograd keeps for the backward of `norm(x)`, the weight left out."""
    kept: list[int] = []

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.untyped_storage().data_ptr() != norm.weight.untyped_storage().data_ptr():
            kept.append(tensor.untyped_storage().nbytes())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        norm(x.clone().requires_grad_())
    return sum(kept)


@pytest.mark.parametrize("norm_class", [Qwen2RMSNorm, Qwen3MoeRMSNorm])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_lean_norm_keeps_only_its_input(norm_class: type, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    hidden = 256
    norm = norm_class(hidden, eps=1e-6).to(dtype)
    x = torch.randn(3, 37, hidden).to(dtype)
    reference_bytes = kept_bytes(norm, x)
    assert lean_rms_norms(norm) == 1
    lean_bytes = kept_bytes(norm, x)
    assert lean_bytes == x.numel() * x.element_size()  # the input alone
    if dtype == torch.bfloat16:
        assert reference_bytes >= 2 * lean_bytes  # transformers keeps the fp32 upcast


def test_only_the_kept_layers_recompute_their_experts_projection() -> None:
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(random_config("tiny-qwen3-moe"))
    model.gradient_checkpointing_enable()
    layers = decoder_layers(model)
    assert keep_activations(model, 1) == (len(layers) - 1, layers[-1:])
    recomputing = [
        getattr(layer.mlp.experts, RECOMPUTE_INPUT_PROJECTION, False) for layer in layers
    ]
    assert recomputing == [False] * (len(layers) - 1) + [True]


@pytest.mark.parametrize("model_dir", ["tiny_qwen3_moe_dir", "tiny_qwen2_dir"])
def test_every_norm_of_a_model_loaded_for_training_is_lean(
    model_dir: str, tiny_config: Callable[..., TrainConfig], request: pytest.FixtureRequest
) -> None:
    model = load_base(tiny_config(model_name_or_path=str(request.getfixturevalue(model_dir))))
    norms = [module for module in model.modules() if type(module).__name__ in QWEN_RMS_NORMS]
    assert norms and all(norm.forward.__func__ is _lean_forward for norm in norms)


def test_the_fused_norm_runs_in_the_input_dtype_under_autocast() -> None:
    """The CUDA path's function, run on the CPU: autocast must not upcast its input to fp32."""
    torch.manual_seed(0)
    x, weight = torch.randn(5, 64).bfloat16(), (1 + 0.2 * torch.randn(64)).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fused_rms_norm(x, weight, 1e-6)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, rms_norm(x, weight, 1e-6))
