"""The numerical guard: skip optimizer steps with non-finite gradients, never save NaN weights.

Plain TRL on the reference data turned grad_norm NaN at step 321 with a finite loss and
saved an all-NaN adapter without a word. `NonFiniteGuard` checks the gradients after
clipping and before every optimizer step: a non-finite step is dropped (its gradients
are cleared so the optimizer leaves every parameter as it was) and counted, and after
`max_nonfinite_steps` such steps in a row the run fails naming the steps. Every save
(checkpoints and the final adapter) first checks that the trainable weights are finite.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from studio.errors import StudioError
from studio.models.adapters import (
    NonFiniteWeightsError,
    assert_finite_adapter,  # noqa: F401 - the worker checks its saved adapter with it
    nonfinite_tensors,
)

if TYPE_CHECKING:
    import torch
    from transformers import TrainerControl, TrainerState, TrainingArguments


class NonFiniteTrainingError(StudioError):
    """Too many optimizer steps in a row had non-finite gradients."""


def gradients_finite(parameters: Iterable[torch.nn.Parameter]) -> bool:
    """True when every gradient is finite (agreed across processes when distributed)."""
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in parameters if p.grad is not None]
    # one multi-tensor norm kernel instead of three kernels per tensor: a NaN or an infinity
    # anywhere makes its tensor's norm non-finite (so would a finite norm overflowing, which no
    # step survives)
    finite = (
        torch.isfinite(torch.stack(torch._foreach_norm(grads))).all()
        if grads
        else torch.tensor(True)
    )
    if dist.is_available() and dist.is_initialized():
        as_int = finite.to(torch.int32)
        dist.all_reduce(as_int, op=dist.ReduceOp.MIN)
        finite = as_int.bool()
    return bool(finite.item())


def trainable_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that training changes (the LoRA weights of a PEFT model)."""
    return {name: param.detach() for name, param in model.named_parameters() if param.requires_grad}


def assert_finite_weights(model: torch.nn.Module, what: str) -> None:
    """Raise NonFiniteWeightsError naming the trainable tensors that are not finite."""
    bad = nonfinite_tensors(trainable_tensors(model))
    if bad:
        raise NonFiniteWeightsError(
            f"refusing to save {what}: {len(bad)} weight tensor(s) hold NaN or infinity "
            f"(first: {', '.join(bad[:3])}); lower learning_rate or max_grad_norm and resume "
            "from an earlier checkpoint"
        )


class NonFiniteGuard(TrainerCallback):
    """Drops optimizer steps whose gradients are not finite and fails after too many in a row."""

    def __init__(self, max_consecutive: int) -> None:
        self.max_consecutive = max_consecutive
        self.skipped_steps: list[int] = []
        self.consecutive: list[int] = []

    def on_pre_optimizer_step(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        optimizer: Any = None,
        **kwargs: Any,
    ) -> None:
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        if gradients_finite(parameters):
            self.consecutive = []
            return
        step = state.global_step + 1
        for parameter in parameters:
            parameter.grad = None
        self.skipped_steps.append(step)
        self.consecutive.append(step)
        print(
            f"warning: step {step}: non-finite gradients; the optimizer step was skipped "
            f"({len(self.consecutive)} in a row, {len(self.skipped_steps)} in all)",
            flush=True,
        )
        if len(self.consecutive) >= self.max_consecutive:
            raise NonFiniteTrainingError(
                f"training stopped at step {step}: gradients were NaN or infinite at steps "
                f"{', '.join(map(str, self.consecutive))} ({len(self.consecutive)} in a row, "
                f"max_nonfinite_steps: {self.max_consecutive}); lower learning_rate, "
                "set max_grad_norm, or check the data, then resume from the last checkpoint"
            )

    def on_step_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        if control.should_save and model is not None:
            assert_finite_weights(model, f"checkpoint-{state.global_step}")
