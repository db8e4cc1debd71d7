"""GRPO's `dapo` loss averaged over the answers that carry a signal (`loss_over_signal_groups`).

TRL divides the summed token losses of a rollout by every completion token in it
(`num_items_in_batch`). The answers of a group whose rewards were all equal have advantage 0:
they add nothing to the sum but still count in the divisor, so the update shrinks as more groups
settle while the policy sharpens. With the key on, the divisor counts only the tokens of answers
whose advantage is not zero: the loss of the rollout DAPO's dynamic sampling would have kept.
"""

from __future__ import annotations

from typing import Any

import torch


def signal_tokens(loss_mask: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """How many tokens of `loss_mask` (answers x tokens) belong to answers whose advantage (one
    per answer, or one per token) is not zero."""
    carries = advantages != 0
    if carries.dim() == 1:
        carries = carries.unsqueeze(1)
    return (loss_mask * carries).sum()


def count_signal_tokens_only(trainer: Any) -> None:
    """From now on `trainer`'s scored rollouts report in `num_items_in_batch` only the tokens of
    answers with a non-zero advantage, summed over processes as TRL sums its own count."""
    generate_and_score = trainer._generate_and_score_completions

    def with_signal_count(inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = generate_and_score(inputs)
        loss_mask = output["completion_mask"]
        if "tool_mask" in output:
            loss_mask = loss_mask * output["tool_mask"]
        local = signal_tokens(loss_mask, output["advantages"])
        output["num_items_in_batch"] = trainer.accelerator.gather(local).sum()
        return output

    trainer._generate_and_score_completions = with_signal_count
