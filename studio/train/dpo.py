"""Direct preference optimisation: TRL's DPOTrainer with LoRA and an explicit reference model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.patches.registry import install_on_trainer
from studio.train.args import common_args
from studio.train.config import TrainConfig
from studio.train.policy import Policy, dpo_policy, drop_reference_copy, verify_reference


def preference_loss(cfg: TrainConfig) -> dict[str, Any]:
    """TRL's loss_type (and loss_weights): `pref_loss`, plus the chosen side's NLL weighted by
    `pref_ftx` when it is > 0 (LLaMA-Factory's key; the RPO recipe of Pang et al., 2024)."""
    if cfg.pref_ftx <= 0:
        return {"loss_type": [cfg.pref_loss]}
    return {"loss_type": [cfg.pref_loss, "sft"], "loss_weights": [1.0, cfg.pref_ftx]}


def build_dpo_trainer(
    cfg: TrainConfig,
    run_dir: Path,
    tokenizer: Any,
    train_dataset: Any,
    eval_dataset: Any,
    callbacks: list[Any],
) -> tuple[Any, Policy]:
    """A DPOTrainer whose reference is the one `dpo_reference` asks for (checked), and its policy.

    The trainer gets the training patches the config turns on (studio.patches.registry);
    checkpoints are saved atomically and without the reference adapter's copy
    (studio.patches.trainer_checkpoints).
    """
    from trl import DPOConfig, DPOTrainer

    policy = dpo_policy(cfg)
    args = DPOConfig(
        **common_args(cfg, run_dir, eval_dataset is not None),
        beta=cfg.pref_beta,
        **preference_loss(cfg),
        precompute_ref_log_probs=cfg.precompute_ref_log_probs,
    )
    trainer = DPOTrainer(
        model=policy.model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=policy.peft_config,
        callbacks=callbacks,
    )
    verify_reference(trainer, policy, cfg)
    install_on_trainer(cfg, trainer, prepare=[drop_reference_copy])
    return trainer, policy
