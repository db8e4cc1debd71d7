"""gradient_checkpointing_skip_layers: the last N decoder layers of the tiny models train without
recomputing their forward, counted with forward pre-hooks on every decoder layer (a checkpointed
layer runs its forward twice per micro-batch, once more in the backward's recompute)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from transformers import TrainerCallback

from studio.errors import StudioError
from studio.patches.partial_checkpointing import decoder_layers
from studio.train.config import TrainConfig, config_from_mapping
from studio.train.worker import train
from studio.workspace import Workspace

from .conftest import new_run, read_summary


class LayerCalls(TrainerCallback):
    """Forward calls of each decoder layer per optimizer step.

    Pre-hooks, not forward hooks: torch's non-reentrant checkpoint stops a recompute early,
    once it has rebuilt the tensors the backward needs, so a layer's forward hook may not run.
    """

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.steps: list[list[int]] = []

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any, **kwargs: Any
    ) -> None:
        layers = decoder_layers(model)
        self.calls = [0] * len(layers)
        for index, layer in enumerate(layers):
            layer.register_forward_pre_hook(functools.partial(self._count, index))

    def _count(self, index: int, module: Any, args: Any) -> None:
        self.calls[index] += 1

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps.append(self.calls)
        self.calls = [0] * len(self.calls)


def calls_per_step(ws: Workspace, cfg: TrainConfig) -> tuple[list[list[int]], Path]:
    counter = LayerCalls()
    run_dir = new_run(ws, cfg)
    train(run_dir, extra_callbacks=[counter])
    return counter.steps, run_dir


@pytest.mark.parametrize(
    ("skip", "per_layer", "split"),
    [
        (0, [2, 2], {"recompute_layers": 2, "keep_activations_layers": 0}),
        (1, [2, 1], {"recompute_layers": 1, "keep_activations_layers": 1}),
        (5, [1, 1], {"recompute_layers": 0, "keep_activations_layers": 2}),
    ],
)
def test_sft_recomputes_all_but_the_last_skip_layers(
    toy_workspace: Workspace,
    tiny_config: Callable[..., TrainConfig],
    tiny_qwen3_moe_dir: Path,
    capsys: pytest.CaptureFixture[str],
    skip: int,
    per_layer: list[int],
    split: dict[str, int],
) -> None:
    cfg = tiny_config(
        model_name_or_path=str(tiny_qwen3_moe_dir),
        max_steps=2,
        gradient_checkpointing=True,
        gradient_checkpointing_skip_layers=skip,
    )
    steps, run_dir = calls_per_step(toy_workspace, cfg)
    assert steps == [per_layer, per_layer]
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded" and summary["gradient_checkpointing"] == split
    partial = ["partial_checkpointing"] if skip > 0 else []
    assert summary["patches"] == [
        "fused_rms_norm",
        "lean_moe_experts",
        *partial,
        "atomic_checkpoints",
    ]
    line = (
        f"gradient checkpointing: {split['recompute_layers']} of 2 layers recompute, "
        f"the last {split['keep_activations_layers']} keep their activations"
    )
    assert (line in capsys.readouterr().out) == (skip > 0)


def test_dpo_keeps_the_split_after_each_reference_forward(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    """TRL re-enables checkpointing on every layer after the reference forward; the split must hold
    for every micro-batch of every step: policy forward + reference forward (+ the recompute)."""
    cfg = tiny_config(
        stage="dpo",
        dataset="toy_pairs",
        max_steps=2,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=2,
        gradient_checkpointing=True,
        gradient_checkpointing_skip_layers=1,
    )
    steps, run_dir = calls_per_step(toy_workspace, cfg)
    assert steps == [[6, 4], [6, 4]]
    assert read_summary(run_dir)["gradient_checkpointing"] == {
        "recompute_layers": 1,
        "keep_activations_layers": 1,
    }


def test_runs_without_checkpointing_record_none(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    steps, run_dir = calls_per_step(toy_workspace, tiny_config(max_steps=1))
    assert steps == [[1, 1]]
    assert read_summary(run_dir)["gradient_checkpointing"] is None


def test_skip_layers_must_be_a_count_and_needs_gradient_checkpointing() -> None:
    base = {"dataset": "a", "gradient_checkpointing": True}
    assert config_from_mapping({"dataset": "a"}).gradient_checkpointing_skip_layers == 0
    cfg = config_from_mapping({**base, "gradient_checkpointing_skip_layers": "3"})
    assert cfg.gradient_checkpointing_skip_layers == 3
    with pytest.raises(
        StudioError,
        match="config key 'gradient_checkpointing_skip_layers': -1 is out of range; accepted: >= 0",
    ):
        config_from_mapping({**base, "gradient_checkpointing_skip_layers": -1})
    with pytest.raises(StudioError, match="expected an integer >= 0, got 1.5"):
        config_from_mapping({**base, "gradient_checkpointing_skip_layers": 1.5})
    with pytest.raises(
        StudioError,
        match="config key 'gradient_checkpointing_skip_layers' .* gradient "
        "checkpointing, which is off; set gradient_checkpointing: true",
    ):
        config_from_mapping(
            {"dataset": "a", "stage": "dpo", "gradient_checkpointing_skip_layers": 2}
        )
