"""TrainingArguments shared by SFT and DPO, from a TrainConfig (LLaMA-Factory keys -> TRL
fields)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.train.config import TrainConfig


def common_args(cfg: TrainConfig, run_dir: Path, has_eval: bool) -> dict[str, Any]:
    """Keyword arguments for SFTConfig / DPOConfig: checkpoints go to the run folder."""
    import torch

    eval_steps = cfg.eval_steps or cfg.save_steps
    evaluates = has_eval and cfg.eval_strategy != "no"
    return {
        "output_dir": str(run_dir),
        "per_device_train_batch_size": cfg.per_device_train_batch_size,
        "per_device_eval_batch_size": cfg.per_device_eval_batch_size
        or cfg.per_device_train_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.num_train_epochs,
        "max_steps": cfg.max_steps,
        "lr_scheduler_type": cfg.lr_scheduler_type,
        # transformers 5 folds warmup_ratio into warmup_steps (a float in [0, 1) is a ratio);
        # a number of steps overrides the ratio, as in transformers
        "warmup_steps": cfg.warmup_steps or cfg.warmup_ratio,
        "max_grad_norm": cfg.max_grad_norm,
        "bf16": cfg.bf16,
        # without a GPU, transformers allows bf16 (CPU autocast) only when told it runs on CPU
        "use_cpu": not torch.cuda.is_available(),
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "logging_steps": cfg.logging_steps,
        "save_strategy": "steps",
        "save_steps": cfg.save_steps,
        "save_only_model": cfg.save_only_model,
        "eval_strategy": cfg.eval_strategy if evaluates else "no",
        "eval_steps": eval_steps if evaluates and cfg.eval_strategy == "steps" else None,
        "eval_on_start": evaluates and cfg.eval_on_start,
        "seed": cfg.seed,
        "max_length": cfg.cutoff_len,
        "report_to": cfg.report_to or "none",
        "deepspeed": cfg.deepspeed,
        "include_num_input_tokens_seen": "non_padding",
        "disable_tqdm": True,
        "logging_nan_inf_filter": False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": torch.cuda.is_available(),
    }
