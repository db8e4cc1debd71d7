"""Partial gradient checkpointing: the last N decoder layers keep their activations.

`gradient_checkpointing: true` makes every decoder layer (a transformers
`GradientCheckpointingLayer`) recompute its forward in the backward pass;
`gradient_checkpointing_skip_layers: N` turns that off for the last N layers, spending
memory on their activations to save their recompute.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.modeling_layers import GradientCheckpointingLayer

from studio.patches.moe_experts import recompute_input_projections
from studio.train.config import TrainConfig


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The model's checkpointable decoder layers in module order (a PEFT wrapper is looked
    through)."""
    return [module for module in model.modules() if isinstance(module, GradientCheckpointingLayer)]


def keep_activations(model: nn.Module, skip: int) -> tuple[int, list[nn.Module]]:
    """Turn checkpointing off for the last `skip` decoder layers of `model`, their frozen experts
    keeping only their input (studio.patches.moe_experts): what these layers keep is what they add
    to the peak.

    Returns (how many layers still recompute, the layers that keep their activations).
    """
    layers = decoder_layers(model)
    kept = layers[len(layers) - min(skip, len(layers)) :]
    for layer in kept:
        layer.gradient_checkpointing = False
        recompute_input_projections(layer)
    return sum(bool(layer.gradient_checkpointing) for layer in layers), kept


def checkpointing_split(model: nn.Module, cfg: TrainConfig) -> dict[str, int] | None:
    """summary.json's record of the split the run trains with; None without gradient
    checkpointing."""
    if not cfg.gradient_checkpointing:
        return None
    count = len(decoder_layers(model))
    kept = min(cfg.gradient_checkpointing_skip_layers, count)
    return {"recompute_layers": count - kept, "keep_activations_layers": kept}


class PartialCheckpointing(TrainerCallback):
    """Keeps the last `skip` decoder layers out of gradient checkpointing during training.

    Trainer.train enables checkpointing on every layer before `on_train_begin`; TRL's
    DPOTrainer enables it on every layer again after each reference forward, so the kept
    layers (found once, at `on_train_begin`) are switched off again before every micro-batch
    (`on_step_begin`, `on_substep_end`).
    """

    def __init__(self, skip: int) -> None:
        self.skip = skip
        self.kept: list[nn.Module] = []

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: nn.Module,
        **kwargs: Any,
    ) -> None:
        recompute, self.kept = keep_activations(model, self.skip)
        if state.is_world_process_zero:
            print(
                f"gradient checkpointing: {recompute} of {recompute + len(self.kept)} layers "
                f"recompute, the last {len(self.kept)} keep their activations",
                flush=True,
            )

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        for layer in self.kept:
            layer.gradient_checkpointing = False

    on_substep_end = on_step_begin
