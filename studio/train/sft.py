"""Supervised fine-tuning: TRL's SFTTrainer with a LoRA adapter, loss on the completion only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.config import TrainConfig
from studio.train.args import common_args
from studio.train.policy import Policy, sft_policy


def build_sft_trainer(cfg: TrainConfig, run_dir: Path, tokenizer: Any, train_dataset: Any,
                      eval_dataset: Any, callbacks: list[Any]) -> tuple[Any, Policy]:
    """An SFTTrainer on prompt/completion records (completion_only_loss) and the policy it trains."""
    from trl import SFTConfig, SFTTrainer

    policy = sft_policy(cfg)
    args = SFTConfig(**common_args(cfg, run_dir, eval_dataset is not None), completion_only_loss=True,
                     packing=False)
    trainer = SFTTrainer(model=policy.model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                         processing_class=tokenizer, peft_config=policy.peft_config, callbacks=callbacks)
    return trainer, policy
