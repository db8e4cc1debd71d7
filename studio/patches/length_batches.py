"""GRPO's forward passes over answers grouped by prompt length, with the padding trimmed
(`grpo_group_by_length`).

TRL pads a rollout's prompts on the left to the longest prompt of the whole rollout and its
answers on the right to the longest answer, then shuffles the answers and cuts them into
micro-batches at that full width. With schemas of a few hundred to over a thousand tokens, most
of every forward pass is padding. With the key on:
- the answers of each optimizer step (the micro-batches it accumulates, as TRL drew them) are
  sorted by prompt, then answer length, and cut into as many micro-batches, each trimmed to its
  own longest prompt and answer;
- every log-prob pass (the old policy's over the whole rollout, the reference's, the training
  step's) runs in chunks of rows of similar length, each trimmed the same way, and gives padded
  answer positions a log-prob and entropy of 0.
An optimizer step trains on the answers TRL gave it, and its gradient is TRL's: the losses sum
over a step's tokens or average over equal micro-batches of rows. `bnpo`, which averages over
each micro-batch's tokens, has its rows sorted and trimmed within each micro-batch instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from studio.patches.compat import PatchIncompatible, library_version

TRAINER_STATE = ("_buffered_inputs", "_step")  # the GRPOTrainer attributes the patch reads
PROMPT_KEYS = ("prompt_ids", "prompt_mask")
# TRL's losses that average over each micro-batch's tokens: regrouped within a micro-batch only
MICRO_BATCH_TOKEN_MEAN_LOSSES = ("bnpo",)
# the keys of TRL's scored rollout this patch knows; a rollout holding any other is left as is
ROLLOUT_KEYS = frozenset(
    {
        *PROMPT_KEYS,
        "completion_ids",
        "completion_mask",
        "advantages",
        "num_items_in_batch",
        "old_per_token_logps",
        "ref_per_token_logps",
        "sampling_per_token_logps",
        "importance_sampling_ratio",
        "tool_mask",
    }
)


def _merge(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, first in chunks[0].items():
        if first is None or (isinstance(first, torch.Tensor) and first.ndim == 0):
            merged[key] = first
        elif isinstance(first, torch.Tensor):
            merged[key] = torch.cat([chunk[key] for chunk in chunks])
        else:
            merged[key] = [item for chunk in chunks for item in chunk[key]]
    return merged


def _take(batch: dict[str, Any], rows: torch.Tensor) -> dict[str, Any]:
    taken: dict[str, Any] = {}
    for key, value in batch.items():
        if value is None or (isinstance(value, torch.Tensor) and value.ndim == 0):
            taken[key] = value
        elif isinstance(value, torch.Tensor):
            taken[key] = value[rows.to(value.device)]
        else:
            taken[key] = [value[i] for i in rows.tolist()]
    return taken


def trim_rollout_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """`chunk` with the prompt columns no row uses (left) and the answer columns no row uses
    (right) cut off."""
    prompt_used = chunk["prompt_mask"].any(0).nonzero()
    start = int(prompt_used[0]) if len(prompt_used) else 0
    answer_width = chunk["completion_ids"].size(1)
    answer_used = chunk["completion_mask"].any(0).nonzero()
    end = max(int(answer_used[-1]) + 1 if len(answer_used) else 0, 1)
    trimmed: dict[str, Any] = {}
    for key, value in chunk.items():
        if key in PROMPT_KEYS:
            trimmed[key] = value[:, start:]
        elif isinstance(value, torch.Tensor) and value.ndim >= 2 and value.size(1) == answer_width:
            trimmed[key] = value[:, :end]
        else:
            trimmed[key] = value
    return trimmed


def _regroup(chunks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`chunks`' rows sorted by prompt, then answer length, cut into as many, each trimmed."""
    merged = _merge(chunks)
    prompt_lengths = merged["prompt_mask"].sum(1).cpu()
    answer_lengths = merged["completion_mask"].sum(1).cpu()
    by_answer = torch.argsort(answer_lengths, stable=True)
    order = by_answer[torch.argsort(prompt_lengths[by_answer], stable=True)]
    size = len(order) // len(chunks)
    pieces = [order[i * size : (i + 1) * size] for i in range(len(chunks))]
    return [trim_rollout_chunk(_take(merged, piece)) for piece in pieces]


def group_by_length(
    chunks: Sequence[dict[str, Any]], window: int, offset: int = 0
) -> list[dict[str, Any]] | None:
    """The rollout's micro-batches regrouped by length within each window of `window`
    micro-batches (micro-batch i in window (offset + i) // window): as many, as large, each
    trimmed; None when the rollout holds keys this patch does not know."""
    if any(set(chunk) - ROLLOUT_KEYS for chunk in chunks):
        return None
    grouped: list[dict[str, Any]] = []
    for _, members in itertools.groupby(range(len(chunks)), key=lambda i: (offset + i) // window):
        grouped += _regroup([chunks[i] for i in members])
    return grouped


def _row_bounds(
    attention_mask: torch.Tensor, prompt_width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: the first prompt column in use, and the number of answer columns in use."""
    prompt = attention_mask[:, :prompt_width].cpu()
    answer = attention_mask[:, prompt_width:].cpu()
    columns = torch.arange(prompt.size(1))
    starts = torch.where(prompt.bool(), columns, prompt.size(1)).min(1).values
    answer_columns = torch.arange(1, answer.size(1) + 1)
    ends = torch.where(answer.bool(), answer_columns, 0).max(1).values
    return starts, ends


def trimmed_logps(original: Any) -> Any:
    """A `_get_per_token_logps_and_entropies` that runs `original` on chunks of rows of similar
    length, each trimmed; padded answer positions get 0 (text models only: with images the call
    goes to `original` as is)."""

    def per_token_logps(
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **images: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        if any(value is not None for value in images.values()):
            return original(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size,
                compute_entropy,
                compute_aux_loss,
                **images,
            )
        prompt_width = input_ids.size(1) - logits_to_keep
        starts, ends = _row_bounds(attention_mask, prompt_width)
        by_answer = torch.argsort(ends, stable=True)
        order = by_answer[torch.argsort(-starts[by_answer], stable=True)]
        size = batch_size or input_ids.size(0)
        logps, entropies, aux_losses = [], [], []
        for first in range(0, len(order), size):
            rows = order[first : first + size]
            start, keep = int(starts[rows].min()), max(int(ends[rows].max()), 1)
            index = rows.to(input_ids.device)
            columns = slice(min(start, prompt_width), prompt_width + keep)
            chunk_logps, chunk_entropies, aux = original(
                model,
                input_ids[index, columns],
                attention_mask[index, columns],
                keep,
                None,
                compute_entropy,
                compute_aux_loss,
            )
            answer_mask = attention_mask[index, prompt_width : prompt_width + keep].bool()
            pad = (0, logits_to_keep - keep)
            logps.append(F.pad(chunk_logps.masked_fill(~answer_mask, 0.0), pad))
            if chunk_entropies is not None:
                entropies.append(F.pad(chunk_entropies.masked_fill(~answer_mask, 0.0), pad))
            if aux is not None:
                aux_losses.append(aux)
        restore = torch.argsort(order).to(input_ids.device)
        return (
            torch.cat(logps)[restore],
            torch.cat(entropies)[restore] if entropies else None,
            torch.stack(aux_losses).mean() if aux_losses else None,
        )

    return per_token_logps


def regroup_window(args: Any) -> int:
    """How many micro-batches a GRPOConfig's answers are regrouped across: an optimizer step's,
    or one for a loss that averages over each micro-batch's tokens."""
    if args.loss_type in MICRO_BATCH_TOKEN_MEAN_LOSSES:
        return 1
    return args.gradient_accumulation_steps


def group_answers_by_length(trainer: Any) -> None:
    """From now on `trainer` regroups each new rollout's micro-batches by length within each
    optimizer step and runs its log-prob passes on trimmed chunks."""
    missing = [name for name in TRAINER_STATE if not hasattr(trainer, name)]
    if missing:
        raise PatchIncompatible(
            "patch 'length_batches' (studio/patches/length_batches.py) no longer fits the "
            f"installed {library_version('trl')}: a GRPOTrainer has no {', '.join(missing)} "
            "(checked with TRL 1.16.0); set grpo_group_by_length: false to run without it"
        )
    prepare_inputs = trainer._prepare_inputs
    trainer._get_per_token_logps_and_entropies = trimmed_logps(
        trainer._get_per_token_logps_and_entropies
    )

    def grouped_prepare_inputs(generation_batch: Any) -> Any:
        before = trainer._buffered_inputs
        inputs = prepare_inputs(generation_batch)
        buffered = trainer._buffered_inputs
        if not trainer.model.training or buffered is before or buffered is None:
            return inputs
        window = regroup_window(trainer.args)
        grouped = group_by_length(buffered, window, trainer._step % window)
        if grouped is None:
            return inputs
        trainer._buffered_inputs = grouped
        return grouped[trainer._step % trainer.args.steps_per_generation]

    trainer._prepare_inputs = grouped_prepare_inputs
