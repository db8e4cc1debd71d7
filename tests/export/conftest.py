"""Tiny random Qwen2, Qwen3 and Qwen3-MoE models (a 1000-token cut of the built-in tokenizer, so
GGUF tokenizers convert in seconds), each with a LoRA adapter whose weights are not zero."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

VOCAB_TOKENS = 1000
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def save_adapter(model_dir: Path, target: Path, seed: int = 1) -> Path:
    """A rank-4 LoRA on the attention projections, initialised at random (not as a no-op), that
    records `model_dir` as its base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.name_or_path = str(model_dir)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGETS, init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_model(
    builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., tuple[Path, Path]]:
    """`tiny_model(architecture, norm_topk_prob=True)`: (model folder, adapter folder), built
    once per session. A MoE model normalises its top-k router weights by default, as llama.cpp
    always does."""
    from studio.testing.random_models import save_random_model

    built: dict[tuple[str, bool], tuple[Path, Path]] = {}

    def build(architecture: str, norm_topk_prob: bool = True) -> tuple[Path, Path]:
        key = (architecture, norm_topk_prob)
        if key not in built:
            root = tmp_path_factory.mktemp(architecture)
            model_dir = save_random_model(
                architecture, root / "model", str(builtin_tokenizer_dir), vocab_tokens=VOCAB_TOKENS
            )
            config_path = model_dir / "config.json"
            config = json.loads(config_path.read_text())
            if config["model_type"] == "qwen3_moe":
                config["norm_topk_prob"] = norm_topk_prob
                config_path.write_text(json.dumps(config, indent=2))
            built[key] = (model_dir, save_adapter(model_dir, root / "adapter"))
        return built[key]

    return build
