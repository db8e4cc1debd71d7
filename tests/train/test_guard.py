"""The numerical guard on real tiny-model training: a poisoned gradient is skipped and
counted, too many in a row fail the run naming the steps, and NaN weights are never saved."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback

from studio.train.config import TrainConfig
from studio.train.guard import NonFiniteTrainingError, NonFiniteWeightsError, assert_finite_adapter
from studio.train.worker import train
from studio.workspace import Workspace

from .conftest import new_run, read_metrics, read_summary


class PoisonGradients(TrainerCallback):
    """Turns one LoRA weight's gradient into NaN during the backward pass of the given steps."""

    def __init__(self, steps: set[int]) -> None:
        self.steps = steps
        self.state: Any = None

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        self.state = state
        parameter = next(p for p in model.parameters() if p.requires_grad)
        parameter.register_hook(self.poison)

    def poison(self, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("nan") if self.state.global_step + 1 in self.steps else grad


class SnapshotWeights(TrainerCallback):
    """Copies of the trainable weights after every optimizer step, by step."""

    def __init__(self) -> None:
        self.after: dict[int, list[torch.Tensor]] = {}

    def on_step_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        self.after[state.global_step] = [
            p.detach().clone() for p in model.parameters() if p.requires_grad
        ]


class PoisonWeightAt(TrainerCallback):
    """Writes NaN into one LoRA weight after the optimizer step of `step`."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_optimizer_step(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if state.global_step + 1 == self.step:
            with torch.no_grad():
                next(p for p in model.parameters() if p.requires_grad)[0, 0] = float("nan")


def unchanged(before: list[torch.Tensor], after: list[torch.Tensor]) -> bool:
    return all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_a_nonfinite_step_is_skipped_counted_and_training_goes_on(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    run_dir = new_run(toy_workspace, tiny_config(max_steps=4))
    snapshots = SnapshotWeights()
    train(run_dir, extra_callbacks=[PoisonGradients({2}), snapshots])
    metrics = read_metrics(run_dir)
    assert [m["nonfinite_steps"] for m in metrics] == [0, 1, 1, 1]
    assert metrics[1]["grad_norm"] is None  # NaN is written as null
    assert unchanged(snapshots.after[1], snapshots.after[2])  # step 2 updated nothing
    assert not unchanged(snapshots.after[2], snapshots.after[3])  # step 3 trained again
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded" and summary["nonfinite_steps"] == [2]
    assert_finite_adapter(run_dir / "adapter")


def test_too_many_nonfinite_steps_in_a_row_fail_naming_the_step(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    run_dir = new_run(toy_workspace, tiny_config(max_steps=8, max_nonfinite_steps=3))
    with pytest.raises(NonFiniteTrainingError) as error:
        train(run_dir, extra_callbacks=[PoisonGradients({2, 3, 4, 5, 6})])
    assert "training stopped at step 4" in str(error.value)
    assert "steps 2, 3, 4 (3 in a row, max_nonfinite_steps: 3)" in str(error.value)
    summary = read_summary(run_dir)
    assert summary["status"] == "failed" and summary["nonfinite_steps"] == [2, 3, 4]
    assert not (run_dir / "adapter").exists()


def test_an_adapter_with_nonfinite_weights_is_never_saved(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    run_dir = new_run(toy_workspace, tiny_config(max_steps=2, save_steps=100))
    with pytest.raises(
        NonFiniteWeightsError, match="refusing to save checkpoint-2: 1 weight tensor"
    ):
        train(run_dir, extra_callbacks=[PoisonWeightAt(2)])
    assert not (run_dir / "adapter").exists() and not (run_dir / "checkpoint-2").exists()


def test_a_saved_adapter_with_nan_is_refused(sft_run: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    shutil.copytree(sft_run / "adapter", adapter)
    weights = adapter / "adapter_model.safetensors"
    tensors = load_file(weights)
    name = min(tensors)
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, weights)
    with pytest.raises(
        NonFiniteWeightsError, match=f"holds NaN or infinite weights in 1 tensor.*{name}"
    ):
        assert_finite_adapter(adapter)
