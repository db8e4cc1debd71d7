"""Tiny random Qwen2, Qwen3 and Qwen3-MoE models (a 1000-token cut of the built-in tokenizer, so
GGUF tokenizers convert in seconds), each with a LoRA adapter whose weights are not zero."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

VOCAB_TOKENS = 1000


@pytest.fixture(scope="session")
def tiny_model(
    builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., tuple[Path, Path]]:
    """`tiny_model(architecture, norm_topk_prob=True)`: (model folder, adapter folder), built
    once per session. A MoE model normalises its top-k router weights by default, as llama.cpp
    always does."""
    from studio.testing.random_models import save_random_adapter, save_random_model

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
            built[key] = (model_dir, save_random_adapter(model_dir, root / "adapter"))
        return built[key]

    return build
