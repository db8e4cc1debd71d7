"""Group relative policy optimisation: TRL's GRPOTrainer with LoRA and the execution reward.

The policy is the SFT adapter (`adapter_name_or_path`, its last folder) trained further, as
DPO's `dpo_reference: sft_adapter` does; with `beta` > 0 TRL adds a frozen copy of it as PEFT
adapter "ref", the reference of the KL term (checked here). Rollouts go through the studio's
prefix engine (studio.train.rollout) unless `rollout_engine: trl`; answers are scored by
studio.train.reward. `GrpoStats` puts rollout throughput and step time into each log line.
With `steps_per_generation` above `gradient_accumulation_steps`, one rollout samples the answers
of several optimizer steps (TRL's generation batch); `num_iterations` trains on them that many
times over.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from studio.errors import StudioError
from studio.patches.registry import install_on_trainer
from studio.train.args import common_args
from studio.train.config import TrainConfig
from studio.train.dataset import CHAT_TEMPLATE_KWARGS
from studio.train.policy import REF_ADAPTER, Policy, drop_reference_copy, grpo_policy
from studio.train.reward import ExecutionReward, RewardWeights
from studio.train.rollout import PrefixRollout, RolloutTally


def rollout_metrics(tally: RolloutTally, steps: int) -> dict[str, float]:
    """A logging window's rollouts: how many, their seconds per optimizer step of the window
    (comparable with `step_s`) and, when one ran, their questions/s and answer tokens/s."""
    stats: dict[str, float] = {
        "rollouts": tally.rollouts,
        "rollout_s": round(tally.seconds / max(steps, 1), 3),
    }
    if tally.seconds:
        stats["rollout_questions_per_s"] = round(tally.questions / tally.seconds, 3)
        stats["rollout_tokens_per_s"] = round(tally.tokens / tally.seconds, 1)
    return stats


class GrpoStats(TrainerCallback):
    """Adds `step_s` (mean optimizer-step time) and the window's rollouts to each log."""

    def __init__(self, rollout: PrefixRollout | None) -> None:
        self.rollout = rollout
        self.began = 0.0
        self.steps, self.seconds = 0, 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.began = time.monotonic()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps += 1
        self.seconds += time.monotonic() - self.began

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if logs is None or "loss" not in logs:
            return
        if self.rollout is not None:
            logs.update(rollout_metrics(self.rollout.drain(), self.steps))
        if self.steps:
            logs["step_s"] = round(self.seconds / self.steps, 3)
            self.steps, self.seconds = 0, 0.0


def grpo_args(cfg: TrainConfig, run_dir: Path, has_eval: bool = False) -> dict[str, Any]:
    """GRPOConfig keyword arguments: the shared ones (no `max_length`: GRPO bounds answers
    with `max_completion_length`; TRL counts the tokens it sees itself) and GRPO's keys. The
    held-out questions (`val_size`) get one answer each, greedy (studio.train.rollout)."""
    args = common_args(cfg, run_dir, has_eval=has_eval)
    del args["max_length"]
    return {
        **args,
        "num_generations_eval": 1,
        "include_num_input_tokens_seen": "no",
        "num_generations": cfg.num_generations,
        "steps_per_generation": cfg.steps_per_generation,
        "num_iterations": cfg.num_iterations,
        "max_completion_length": cfg.max_completion_length,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "beta": cfg.beta,
        "loss_type": cfg.loss_type,
        "epsilon": cfg.epsilon,
        "epsilon_high": cfg.epsilon_high,
        "scale_rewards": cfg.scale_rewards,
        "chat_template_kwargs": CHAT_TEMPLATE_KWARGS,
    }


def execution_reward(cfg: TrainConfig) -> ExecutionReward:
    """The reward the config asks for."""
    weights = RewardWeights(
        wrong_result=cfg.reward_wrong_result, format=cfg.reward_format, overlap=cfg.reward_overlap
    )
    return ExecutionReward(weights, cfg.reward_timeout_s, cfg.reward_workers)


# the start of TRL's warning for an answer no reward function scored
TRL_UNSCORED_WARNING = "All reward functions returned None"


class UnscoredAnswersFilter(logging.Filter):
    """Drops TRL's warning for answers no reward function scored: it prints the whole prompt
    each time, while the execution reward names each question whose gold fails once
    (studio.train.reward.unjudged_gold_warning)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(TRL_UNSCORED_WARNING)


def quiet_unscored_answers(trainer_module: str) -> None:
    """Install UnscoredAnswersFilter on the logger of TRL's trainer module, once."""
    logger = logging.getLogger(trainer_module)
    if not any(isinstance(f, UnscoredAnswersFilter) for f in logger.filters):
        logger.addFilter(UnscoredAnswersFilter())


def build_grpo_trainer(
    cfg: TrainConfig,
    run_dir: Path,
    tokenizer: Any,
    train_dataset: Any,
    eval_dataset: Any,
    callbacks: list[Any],
) -> tuple[Any, Policy]:
    """A GRPOTrainer on prompt records carrying `database` and `gold_sql`, and its policy.

    Checkpoints are saved atomically and without the reference adapter's copy
    (studio.patches.registry, as DPO).
    """
    from trl import GRPOConfig, GRPOTrainer

    quiet_unscored_answers(GRPOTrainer.__module__)
    args = GRPOConfig(**grpo_args(cfg, run_dir, has_eval=eval_dataset is not None))
    check_rollout_questions(args.generation_batch_size // cfg.num_generations, len(train_dataset))
    policy = grpo_policy(cfg)
    rollout = None
    if cfg.rollout_engine == "prefix":
        rollout = PrefixRollout(
            tokenizer,
            cfg.max_completion_length,
            cfg.temperature,
            cfg.top_p,
            cfg.seed,
            CHAT_TEMPLATE_KWARGS,
        )
    trainer = GRPOTrainer(
        model=policy.model,
        reward_funcs=[execution_reward(cfg)],
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=policy.peft_config,
        callbacks=[GrpoStats(rollout), *callbacks],
        rollout_func=rollout,
    )
    freeze_reference(trainer, cfg)
    install_on_trainer(cfg, trainer, prepare=[drop_reference_copy])
    return trainer, policy


def rollout_questions(cfg: TrainConfig) -> int:
    """Questions one rollout of one process samples, as TRL counts them:
    per_device_train_batch_size x steps_per_generation (unset: gradient_accumulation_steps) /
    num_generations; a job over several processes samples that many for each."""
    steps = cfg.steps_per_generation or cfg.gradient_accumulation_steps
    return cfg.per_device_train_batch_size * steps // cfg.num_generations


def check_rollout_questions(wanted: int, questions: int) -> None:
    """Refuse a dataset with fewer questions than one rollout samples: TRL's sampler leaves out
    a partial generation batch, so the run would train nothing."""
    if questions < wanted:
        raise StudioError(
            f"GRPO: one rollout samples {wanted} questions (per_device_train_batch_size x "
            "steps_per_generation, unset: gradient_accumulation_steps, x processes / "
            f"num_generations) and the dataset has {questions}; lower steps_per_generation or "
            "per_device_train_batch_size"
        )


def freeze_reference(trainer: Any, cfg: TrainConfig) -> None:
    """With an SFT adapter and `beta` > 0, check TRL made the frozen "ref" copy; freeze it."""
    from peft import PeftModel

    if not cfg.adapter_name_or_path or cfg.beta == 0:
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not isinstance(model, PeftModel) or REF_ADAPTER not in model.peft_config:
        raise StudioError(
            "GRPO could not set up the frozen SFT reference adapter (TRL would measure the KL "
            "against the base model); set beta: 0 to train without a KL term"
        )
    for name, parameter in model.named_parameters():
        if f".{REF_ADAPTER}." in name:
            parameter.requires_grad_(False)
