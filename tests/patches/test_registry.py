"""The patch registry (studio.patches.registry) and its compatibility check (studio.patches.compat):
every internal a patch relies on exists in the installed libraries, a missing or changed one
stops the install with an error naming the key that turns the patch off, and a patch turned
off is neither checked nor installed."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from studio.inference.generate import GenerationSettings
from studio.patches.compat import PatchIncompatible, check_patch
from studio.patches.decode_attention import DECODE_ATTENTION
from studio.patches.registry import (
    PATCHES,
    Internal,
    Patch,
    decoding_patches,
    install_on_model,
    training_patches,
)
from studio.patches.rms_norm import QWEN_RMS_NORMS, _lean_forward
from studio.testing.random_models import random_config
from studio.train.config import KNOWN_KEYS, config_from_mapping
from studio.train.policy import load_base

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
BY_NAME = {patch.name: patch for patch in PATCHES}


def pinned_versions() -> set[str]:
    """`<library> <version>` for every `name==version` line of requirements.txt."""
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", REQUIREMENTS.read_text(), flags=re.MULTILINE)
    return {f"{name.lower()} {version}" for name, version in pins}


def with_internal(patch: Patch, internal: Internal) -> Patch:
    return dataclasses.replace(patch, internals=(*patch.internals, internal))


def lean_norms(model: torch.nn.Module) -> list[bool]:
    """For each Qwen RMSNorm of `model`: does it run the lean forward?"""
    norms = [m for m in model.modules() if type(m).__name__ in QWEN_RMS_NORMS]
    assert norms
    return [getattr(norm.forward, "__func__", None) is _lean_forward for norm in norms]


@pytest.mark.parametrize("patch", PATCHES, ids=lambda patch: patch.name)
def test_every_internal_a_patch_relies_on_is_in_the_installed_libraries(patch: Patch) -> None:
    check_patch(patch)
    assert patch.internals
    assert set(version.lower() for version in patch.checked_with) <= pinned_versions()
    assert (REQUIREMENTS.parent / patch.source).is_file()
    if patch.scope == "training" and patch.key is not None:
        assert patch.key in KNOWN_KEYS
    if patch.scope == "decoding":
        assert patch.key in {field.name for field in dataclasses.fields(GenerationSettings)}


def test_training_patches_install_at_a_training_step_and_decoding_ones_never_do() -> None:
    for patch in PATCHES:
        training = (patch.before_load, patch.on_model, patch.on_trainer)
        if patch.scope == "training":
            assert any(training) and patch.while_decoding is None, patch.name
        else:
            assert not any(training), patch.name


def test_a_missing_symbol_stops_the_install_and_names_the_key_that_turns_the_patch_off() -> None:
    missing = with_internal(
        BY_NAME["fused_rms_norm"],
        Internal("transformers.models.qwen2.modeling_qwen2", ("Qwen2RMSNorm.fused_forward",)),
    )
    model = AutoModelForCausalLM.from_config(random_config("tiny-qwen2"))
    cfg = config_from_mapping({"dataset": "a"})
    with pytest.raises(PatchIncompatible) as raised:
        install_on_model(cfg, model, patches=[missing])
    message = str(raised.value)
    assert "patch 'fused_rms_norm' (studio/patches/rms_norm.py)" in message
    assert (
        "transformers.models.qwen2.modeling_qwen2.Qwen2RMSNorm.fused_forward is missing" in message
    )
    assert "installed transformers 5.17.0" in message
    assert "set fused_rms_norm: false to run without it" in message
    assert not any(lean_norms(model))  # nothing was installed


def test_a_changed_signature_or_a_missing_module_is_named_too() -> None:
    changed = with_internal(
        BY_NAME["atomic_checkpoints"],
        Internal(
            "transformers.trainer",
            ("Trainer._save_checkpoint",),
            (("Trainer._save_checkpoint", ("self", "model", "trial", "metrics")),),
        ),
    )
    with pytest.raises(
        PatchIncompatible,
        match=r"transformers\.trainer\.Trainer\._save_checkpoint takes \(self, model, trial\), "
        r"where the patch expects it to take \(self, model, trial, metrics, \.\.\.\).*"
        r"it cannot be turned off, or install transformers 5\.17\.0 and TRL 1\.16\.0",
    ):
        check_patch(changed)
    gone = with_internal(BY_NAME["kv_cache"], Internal("transformers.paged_cache_v9", ("Cache",)))
    with pytest.raises(
        PatchIncompatible,
        match=r"the module transformers\.paged_cache_v9 cannot be imported .*"
        r"set engine: batched \(--engine batched\) to run without it",
    ):
        check_patch(gone)


def test_a_patch_turned_off_by_its_key_is_neither_checked_nor_installed() -> None:
    missing = with_internal(
        BY_NAME["fused_rms_norm"],
        Internal("transformers.models.qwen2.modeling_qwen2", ("Qwen2RMSNorm.fused_forward",)),
    )
    model = AutoModelForCausalLM.from_config(random_config("tiny-qwen2"))
    off = config_from_mapping({"dataset": "a", "fused_rms_norm": False})
    install_on_model(off, model, patches=[missing])
    assert not any(lean_norms(model))
    install_on_model(config_from_mapping({"dataset": "a"}), model)
    assert all(lean_norms(model))


def test_load_base_leaves_transformers_norms_when_the_fused_norm_is_off(
    tiny_qwen2_dir: Path,
) -> None:
    model = load_base(
        config_from_mapping(
            {"dataset": "a", "model_name_or_path": str(tiny_qwen2_dir), "fused_rms_norm": "false"}
        )
    )
    assert not any(lean_norms(model))


def test_training_patches_lists_what_the_config_turns_on_for_the_model() -> None:
    dense, moe = random_config("tiny-qwen2"), random_config("tiny-qwen3-moe")
    cfg = config_from_mapping({"dataset": "a"})
    assert training_patches(cfg, dense) == ["fused_rms_norm", "atomic_checkpoints"]
    assert training_patches(cfg, moe) == [
        "fused_rms_norm",
        "lean_moe_experts",
        "atomic_checkpoints",
    ]
    every = config_from_mapping(
        {
            "dataset": "a",
            "packing": True,
            "gradient_checkpointing": True,
            "gradient_checkpointing_skip_layers": 1,
        }
    )
    grpo_only = ("signal_groups", "length_batches")
    sft_patches = [p.name for p in PATCHES if p.scope == "training" and p.name not in grpo_only]
    assert training_patches(every, moe) == sft_patches
    grpo = config_from_mapping(
        {
            "dataset": "a",
            "stage": "grpo",
            "per_device_train_batch_size": 8,
            "loss_over_signal_groups": True,
        }
    )
    signal = ["fused_rms_norm", "signal_groups", "length_batches", "atomic_checkpoints"]
    assert training_patches(grpo, dense) == signal
    none = config_from_mapping(
        {"dataset": "a", "fused_rms_norm": False, "experts_implementation": "grouped_mm"}
    )
    assert training_patches(none, moe) == ["atomic_checkpoints"]


@pytest.mark.parametrize("engine", ["prefix", "batched"])
def test_decoding_patches_swap_the_attention_only_for_the_prefix_engine(engine: str) -> None:
    model = AutoModelForCausalLM.from_config(
        random_config("tiny-qwen2"), attn_implementation="sdpa"
    )
    with decoding_patches(GenerationSettings(engine=engine), model):
        inside = model.config._attn_implementation
    assert inside == (DECODE_ATTENTION if engine == "prefix" else "sdpa")
    assert model.config._attn_implementation == "sdpa"


def test_the_patches_page_lists_every_patch_with_its_file() -> None:
    page = (REQUIREMENTS.parent / "docs" / "PATCHES.md").read_text(encoding="utf-8")
    for patch in PATCHES:
        assert f"| `{patch.name}` ({Path(patch.source).name}) |" in page, patch.name
