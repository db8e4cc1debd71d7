"""Supervised fine-tuning: TRL's SFTTrainer with a LoRA adapter, loss on the completion only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.patches.registry import install_on_trainer
from studio.train.args import common_args
from studio.train.config import TrainConfig
from studio.train.policy import Policy, sft_policy


def build_sft_trainer(
    cfg: TrainConfig,
    run_dir: Path,
    tokenizer: Any,
    train_dataset: Any,
    eval_dataset: Any,
    callbacks: list[Any],
    policy: Policy | None = None,
) -> tuple[Any, Policy]:
    """An SFTTrainer on prompt/completion records (completion_only_loss) and the policy it trains.

    `policy` defaults to `sft_policy(cfg)`; benchmarks pass one built around a model made in memory.
    The trainer gets the training patches the config turns on (studio.patches.registry):
    checkpoints saved atomically (studio.patches.trainer_checkpoints) and, with `packing`,
    examples packed into `cutoff_len` bins (best-fit decreasing), each micro-batch one
    padding-free row (studio.patches.packed_attention).
    """
    from trl import SFTConfig, SFTTrainer

    policy = policy or sft_policy(cfg)
    args = SFTConfig(
        **common_args(cfg, run_dir, eval_dataset is not None),
        completion_only_loss=True,
        packing=cfg.packing,
        packing_strategy="bfd",
        padding_free=cfg.packing,
        activation_offloading=cfg.activation_offloading,
    )
    trainer = SFTTrainer(
        model=policy.model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=policy.peft_config,
        callbacks=callbacks,
    )
    install_on_trainer(cfg, trainer)
    return trainer, policy
