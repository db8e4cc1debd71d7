"""Packed, padding-free SFT: the packed attention refuses padded batches, and a packed run trains
end to end through TRL's best-fit-decreasing packing (its parity with per-example attention is in
tests/patches/test_parity.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from studio.errors import StudioError
from studio.patches.packed_attention import PACKED_ATTENTION, register_packed_attention
from studio.train.config import TrainConfig
from studio.train.worker import train
from studio.workspace import Workspace

from .conftest import new_run, read_metrics, read_summary


def _model(model_dir: Path, attention: str) -> torch.nn.Module:
    register_packed_attention()
    return AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation=attention
    ).eval()


def test_packed_attention_refuses_padded_batches(tiny_qwen2_dir: Path) -> None:
    packed = _model(tiny_qwen2_dir, PACKED_ATTENTION)
    ids = torch.randint(0, 1000, (2, 6))
    with pytest.raises(RuntimeError, match="packed, unpadded rows"):
        packed(ids, attention_mask=torch.ones_like(ids))


def test_packed_sft_run_trains_on_every_token_without_padding(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    cfg = tiny_config(packing=True, per_device_train_batch_size=2, max_steps=2)
    assert cfg.attn_implementation == PACKED_ATTENTION
    run_dir = new_run(toy_workspace, cfg)
    train(run_dir)
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded" and summary["attn_implementation"] == PACKED_ATTENTION
    assert summary["patches"] == ["fused_rms_norm", "packed_attention", "atomic_checkpoints"]
    metrics = read_metrics(run_dir)
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(
        m["loss"] > 0 and m["tokens_per_s"] > 0 and m["nonfinite_steps"] == 0 for m in metrics
    )
    # 12 toy examples of ~40 tokens fit 256-token bins ~6 at a time: two steps of 2 bins see them
    # all
    assert metrics[-1]["epoch"] >= 1.0


def test_packing_is_sft_only(tiny_config: Callable[..., TrainConfig]) -> None:
    with pytest.raises(StudioError, match="'packing' applies to stage: sft only"):
        tiny_config(stage="dpo", dataset="toy_pairs", packing=True)
