"""Playground fixtures: a workspace holding the demo datasets, and a real LoRA adapter for the tiny
model."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.data.importers.demo import open_workspace
from studio.workspace import Workspace


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A fresh workspace: Workspace.open registers demo_train and demo_test (databases copied
    in)."""
    return open_workspace(tmp_path_factory.mktemp("playground") / "workspace")


@pytest.fixture(scope="session")
def tiny_adapter_dir(tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the tiny model with random (non-zero) weights, so it changes the model's
    output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen2_dir)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    out = tmp_path_factory.mktemp("tiny-adapter") / "adapter"
    get_peft_model(model, config).save_pretrained(out)
    return out
