"""Trainer callbacks: metrics JSONL (with tokens/s and ETA), the phase and step count in
progress.jsonl, and cancel-with-checkpoint."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from studio.jobs.runtime import REFERENCE_PASS, TRAINING, ProgressWriter, append_jsonl
from studio.train.guard import NonFiniteGuard

# TRL log keys copied to metrics.jsonl when present (DPO rewards and log-probs)
DPO_KEYS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
)
# GRPO: TRL's reward, KL, clipping and answer-length logs, the execution reward's shares
# (studio.train.reward) and rollout throughput and step time (studio.train.grpo)
GRPO_KEYS = (
    "reward",
    "reward_std",
    "kl",
    "clip_ratio/low_mean",
    "clip_ratio/high_mean",
    "cispo_clip_ratio",
    "completions/mean_length",
    "completions/clipped_ratio",
    "frac_reward_zero_std",
    "entropy",
    "grpo/correct",
    "grpo/exec_error",
    "grpo/timeout",
    "grpo/any_correct",
    "grpo/all_correct",
    "grpo/reward_s",
    "rollouts",
    "rollout_questions_per_s",
    "rollout_tokens_per_s",
    "rollout_s",
    "step_s",
)
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss")


def finite_or_none(value: Any) -> Any:
    """Floats that JSON can carry: NaN and infinity become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsCallback(TrainerCallback):
    """Appends one line per logging step (and per evaluation) to `metrics.jsonl`."""

    def __init__(self, path: Path, guard: NonFiniteGuard) -> None:
        self.path = path
        self.guard = guard
        self.started = time.monotonic()
        self.first_step: int | None = None
        self.last_time = self.started
        self.last_tokens: int | None = None
        self.final: dict[str, Any] = {}
        self.last_train: dict[str, Any] = {}
        self.last_eval: dict[str, Any] = {}

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.started = self.last_time = time.monotonic()
        self.first_step = state.global_step
        self.last_tokens = state.num_input_tokens_seen

    def _eta(self, state: TrainerState, now: float) -> float | None:
        done = state.global_step - (self.first_step or 0)
        if done <= 0 or not state.max_steps:
            return None
        return round((now - self.started) / done * max(state.max_steps - state.global_step, 0), 1)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "train_loss" in logs:  # the trainer's closing log
            self.final = {key: finite_or_none(logs[key]) for key in SUMMARY_KEYS if key in logs}
            return
        now = time.monotonic()
        record: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
        if "loss" in logs:
            tokens = state.num_input_tokens_seen
            elapsed = now - self.last_time
            rate = (
                (tokens - self.last_tokens) / elapsed
                if self.last_tokens is not None and elapsed > 0
                else None
            )
            self.last_time, self.last_tokens = now, tokens
            record.update(
                loss=logs.get("loss"),
                learning_rate=logs.get("learning_rate"),
                grad_norm=logs.get("grad_norm"),
                tokens_per_s=round(rate, 1) if rate is not None else None,
                tokens_seen=tokens,
                eta_s=self._eta(state, now),
                elapsed_s=round(now - self.started, 1),
                nonfinite_steps=len(self.guard.skipped_steps),
            )
            record.update({key: logs[key] for key in (*DPO_KEYS, *GRPO_KEYS) if key in logs})
            self.last_train = record
        elif any(key.startswith("eval_") for key in logs):
            record.update({key: value for key, value in logs.items() if key.startswith("eval_")})
            self.last_eval = record
        else:
            return
        append_jsonl(self.path, {key: finite_or_none(value) for key, value in record.items()})
        if "loss" in record:
            print(_log_line(record, state.max_steps), flush=True)


def _log_line(record: dict[str, Any], max_steps: int) -> str:
    """A logged step for the job's log: `step 3/8 · loss 1.2345 · lr 5e-05 · grad norm 0.91`."""
    parts = [f"step {record['step']}/{max_steps}"]
    for key, name in (("loss", "loss"), ("learning_rate", "lr"), ("grad_norm", "grad norm")):
        value = record.get(key)
        if isinstance(value, float):
            parts.append(f"{name} {value:.4g}")
    return " · ".join(parts)


class PhaseCallback(TrainerCallback):
    """Reports the trainer's phases to progress.jsonl: the reference pass (DPO with
    `precompute_ref_log_probs`, run after the trainer is built), then step N of max_steps."""

    def __init__(self, progress: ProgressWriter) -> None:
        self.progress = progress

    def on_init_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if getattr(args, "precompute_ref_log_probs", False):
            self.progress.phase(REFERENCE_PASS)

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.progress.phase(TRAINING, total=state.max_steps, unit="steps", done=state.global_step)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.progress.advance(state.global_step)


def agreed_across_ranks(flag: bool, device: Any = None) -> bool:
    """`flag` of any process, when several train together (one tiny all-reduce); else `flag`.

    Under `accelerate launch` every rank gets the job's SIGTERM, but not necessarily before
    the same step: a rank that stopped alone would leave the others waiting in a collective.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    vote = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(vote, op=dist.ReduceOp.MAX)
    return bool(vote.item())


class CancelCallback(TrainerCallback):
    """When `cancel_requested()` turns true on any rank: every rank saves a checkpoint at the
    end of this step and stops."""

    def __init__(self, cancel_requested: Callable[[], bool]) -> None:
        self.cancel_requested = cancel_requested
        self.cancelled_at: int | None = None

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if agreed_across_ranks(self.cancel_requested(), args.device):
            self.cancelled_at = state.global_step
            control.should_save = True
            control.should_training_stop = True
