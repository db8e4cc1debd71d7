"""Every training config key the studio knows, in one table: its type, default, accepted values,
help, and origin (LLaMA-Factory's key with its meaning, or the studio's own).

`TrainConfig` (studio/train/config.py) is built from this table, and so are validation, the
CLI's `--set` help, the Train tab's form labels and the key tables in docs/TRAINING.md and
docs/INTEROP.md (`python -m studio.train.doc_tables`). A key with `lf_default` takes that value
instead of `default` when the config is read with LLaMA-Factory's defaults (config.py says when).
LLaMA-Factory keys the studio does not honour are listed in studio/train/llamafactory_keys.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.train.values import Check, Choice, Flag, Names, Number, Reporters, Rows, Text

LLAMAFACTORY = "LLaMA-Factory"
STUDIO = "studio"
TRL = "TRL"  # a TRL config field of the same name (GRPO): not a LLaMA-Factory key
UNSET = object()  # `lf_default` when LLaMA-Factory's default is the studio's

DEFAULT_MODEL = "builtin:qwen2.5-coder-0.5b-instruct"
STAGES = ("sft", "dpo", "grpo")
FINETUNING_TYPES = ("lora",)
DPO_REFERENCES = ("sft_adapter", "merged_sft")
DISTRIBUTED_BACKENDS = ("fsdp", "deepspeed_zero3")
DEFAULTS_MODES = ("auto", "studio", "llamafactory")
EVAL_STRATEGIES = ("no", "steps", "epoch")
REPORTERS = ("none", "tensorboard")
# LLaMA-Factory's flash_attn values -> transformers attn_implementation ("auto" is resolved per run)
ATTENTION_IMPLEMENTATIONS = {
    "auto": None,
    "disabled": "eager",
    "sdpa": "sdpa",
    "fa2": "flash_attention_2",
}
# transformers 5.17 experts_implementation values for Mixture-of-Experts models, plus the studio's
# studio.patches.moe_experts.LEAN_EXPERTS ("auto" picks it; dense models have no experts to choose)
EXPERTS_IMPLEMENTATIONS = ("auto", "eager", "grouped_mm", "batched_mm", "studio_grouped_mm")
# TRL 1.16 DPOConfig.loss_type values
PREF_LOSSES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)
# TRL 1.16 GRPOConfig.loss_type and scale_rewards values
GRPO_LOSSES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo", "luspo", "vespo")
# the losses TRL divides by the completion tokens of the whole rollout (`num_items_in_batch`)
TOKEN_COUNT_LOSSES = ("dapo", "cispo", "vespo")
SCALE_REWARDS = ("group", "batch", "none")
# how GRPO samples its rollouts: the studio's prefix engine, or TRL's own `generate`
ROLLOUT_ENGINES = ("prefix", "trl")
# LLaMA-Factory pref_loss values TRL's DPOTrainer does not offer
REFUSED_PREF_LOSSES = {
    "orpo": "ORPO is a reference-free loss of TRL's separate experimental ORPOTrainer, not a "
    "DPOTrainer loss_type; not supported",
    "simpo": "SimPO is TRL's experimental CPOTrainer with loss_type simpo, not a DPOTrainer "
    "loss_type; not supported",
    "kto_pair": "TRL removed kto_pair; KTO is TRL's separate KTOTrainer; not supported",
}
REFUSED_STAGES = {
    stage: f"LLaMA-Factory's {name} stage is not supported"
    for stage, name in (("pt", "pre-training"), ("rm", "reward model"), ("ppo", "PPO"))
} | {"kto": "LLaMA-Factory's KTO stage is not supported"}
REFUSED_FINETUNING = {
    kind: f"{name} fine-tuning is not supported: the studio trains LoRA adapters"
    for kind, name in (("full", "full-parameter"), ("freeze", "freeze (partial-parameter)"))
} | {"oft": "OFT is not supported: the studio trains LoRA adapters"}
# transformers 5.17 SchedulerType values usable from a config (greedy and plateau need a metric)
LR_SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
)


@dataclass(frozen=True)
class Template:
    """A LLaMA-Factory template: the model family it is written for (None: any) and its default
    system prompt (None: no system message when a row has none)."""

    family: str | None
    system: str | None


# LLaMA-Factory's templates the studio knows (src/llamafactory/data/template.py)
TEMPLATES: dict[str, Template] = {
    "default": Template(None, None),
    "empty": Template(None, None),
    "chatml": Template(None, None),
    "qwen": Template(
        "qwen2", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    ),
    "qwen2_vl": Template("qwen2", "You are a helpful assistant."),
    "qwen3": Template("qwen3", None),
    "qwen3_nothink": Template("qwen3", None),
    "llama2": Template("llama", None),
    "llama3": Template("llama", None),
    "mistral": Template("mistral", None),
    "gemma": Template("gemma", None),
    "gemma3": Template("gemma3", None),
    "deepseek": Template("deepseek", None),
    "deepseek3": Template("deepseek_v3", None),
    "deepseekcoder": Template(
        "llama",
        "You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by "
        "DeepSeek Company, and you only answer questions related to computer science. For "
        "politically sensitive questions, security and privacy issues, and other non-computer "
        "science questions, you will refuse to answer.\n",
    ),
    "phi": Template("phi3", None),
    "phi4": Template("phi3", None),
    "glm4": Template("glm4", None),
    "yi": Template("llama", None),
}


@dataclass(frozen=True)
class Key:
    """One config key. `type` is the TrainConfig field's annotation; `accepted` overrides the
    checker's own description; `label` is the Train tab's form label (empty: not on the form)."""

    name: str
    type: str
    default: Any
    check: Check
    help: str
    origin: str = LLAMAFACTORY
    accepted: str = ""
    label: str = ""
    lf_default: Any = UNSET

    @property
    def accepts(self) -> str:
        """What the key accepts, for docs and help."""
        return self.accepted or self.check.accepted


def _int(low: float | None = None, high: float | None = None, optional: bool = False) -> Number:
    return Number(int, low, high, optional=optional)


KEYS: tuple[Key, ...] = (
    # model and adapters
    Key(
        "model_name_or_path",
        "str",
        DEFAULT_MODEL,
        Text(),
        "the base model",
        accepted="`builtin:<name>`, a local HF folder or a `.gguf` (studio/models/references.py)",
        label="Model",
    ),
    Key(
        "adapter_name_or_path",
        "list[str]",
        (),
        Names(),
        "LoRA folders. SFT: the last is trained further, earlier ones merged. DPO: the SFT "
        "adapter (see below)",
        accepted="folders, comma-separated or a list",
        label="Adapters (comma-separated; DPO: the SFT adapter)",
    ),
    Key("stage", "str", "sft", Choice(STAGES, REFUSED_STAGES), "what to train", label="Stage"),
    Key(
        "finetuning_type",
        "str",
        "lora",
        Choice(FINETUNING_TYPES, REFUSED_FINETUNING),
        "the kind of fine-tuning",
    ),
    Key("lora_rank", "int", 8, _int(1, 4096), "LoRA rank", label="LoRA rank"),
    Key(
        "lora_alpha",
        "int | None",
        None,
        _int(1, optional=True),
        "LoRA alpha; none: twice the rank (as LLaMA-Factory)",
        label="LoRA alpha (0: 2 × rank)",
    ),
    Key(
        "lora_dropout",
        "float",
        0.0,
        Number(float, 0, 1, high_open=True),
        "LoRA dropout",
        label="LoRA dropout",
    ),
    Key(
        "lora_target",
        "list[str]",
        ("all",),
        Names(),
        "`all`: every linear layer but the head, as LLaMA-Factory (a Mixture-of-Experts "
        "model's experts and router only when named); or module names, e.g. `q_proj,k_proj`; "
        "each name must match modules of the model (checked on the meta device)",
        accepted="`all` or module names",
        label="LoRA target",
    ),
    # data
    Key(
        "dataset",
        "list[str]",
        (),
        Names(),
        "registered dataset names",
        accepted="dataset names, comma-separated (required)",
        label="Dataset",
    ),
    Key(
        "dataset_dir",
        "str | None",
        None,
        Text(optional=True),
        "the folder holding the `dataset_info.json` that names the datasets; none: the "
        "workspace's registry",
        accepted="a folder",
    ),
    Key(
        "template",
        "str | None",
        None,
        Text(optional=True),
        "a LLaMA-Factory template: sets the system prompt of rows without one (its default "
        "system prompt, e.g. `qwen`'s, or none for `qwen3`, `qwen3_nothink`, `default`, "
        "`empty`); none: the studio's SQL system prompt. The tokenizer's own chat template "
        "renders the messages, with thinking off",
        accepted="a template name (docs/INTEROP.md)",
    ),
    Key(
        "cutoff_len",
        "int",
        2048,
        _int(16),
        "TRL `max_length`: longer rows are truncated, rows whose prompt fills it are dropped "
        "(at least one must remain)",
        label="cutoff_len",
    ),
    Key("max_samples", "int | None", None, _int(1, optional=True), "first N rows of each dataset"),
    Key(
        "val_size",
        "float",
        0.0,
        Rows(),
        "rows held out for evaluation (`eval_loss`; GRPO: greedy `eval_grpo/correct`), a "
        "fraction or a count",
    ),
    # batches and schedule
    Key(
        "per_device_train_batch_size",
        "int",
        1,
        _int(1),
        "rows (bins with `packing`) per step and device",
        label="Batch size",
        lf_default=8,
    ),
    Key(
        "per_device_eval_batch_size",
        "int | None",
        None,
        _int(1, optional=True),
        "rows per evaluation step; none: the training batch size",
        lf_default=8,
    ),
    Key(
        "gradient_accumulation_steps",
        "int",
        1,
        _int(1),
        "micro-batches per optimizer step",
        label="Grad accumulation",
    ),
    Key(
        "learning_rate",
        "float",
        5e-5,
        Number(float, 0, 1, low_open=True),
        "peak learning rate",
        label="Learning rate",
    ),
    Key(
        "num_train_epochs",
        "float",
        3.0,
        Number(float, 0, None, low_open=True),
        "epochs (when `max_steps` is -1)",
        label="Epochs",
    ),
    Key(
        "max_steps",
        "int",
        -1,
        _int(-1),
        "optimizer steps; -1: train `num_train_epochs`",
        label="Max steps (-1: epochs)",
    ),
    Key(
        "lr_scheduler_type",
        "str",
        "cosine",
        Choice(LR_SCHEDULERS),
        "transformers' learning-rate schedule",
        lf_default="linear",
    ),
    Key(
        "warmup_ratio",
        "float",
        0.0,
        Number(float, 0, 1, high_open=True),
        "fraction of the steps spent warming up",
    ),
    Key(
        "warmup_steps",
        "int",
        0,
        _int(0),
        "optimizer steps spent warming up; > 0 overrides `warmup_ratio` (as in transformers)",
    ),
    Key("max_grad_norm", "float", 1.0, Number(float, 0), "gradient clipping, 0 = off"),
    Key(
        "bf16",
        "bool",
        False,
        Flag(),
        "base weights in bfloat16 with bf16 autocast; the LoRA weights stay float32",
    ),
    Key(
        "gradient_checkpointing",
        "bool",
        False,
        Flag(),
        "recompute activations in the backward pass",
        lf_default=True,
    ),
    Key(
        "disable_gradient_checkpointing",
        "bool",
        False,
        Flag(),
        "true turns gradient checkpointing off (LLaMA-Factory's switch; it is on there unless "
        "this is set)",
    ),
    Key("seed", "int", 42, _int(0), "random seed"),
    # output, logging, evaluation
    Key(
        "output_dir",
        "str | None",
        None,
        Text(optional=True),
        "where the final adapter goes (default `<run>/adapter`); checkpoints stay in the run "
        "folder",
        accepted="a folder",
    ),
    Key(
        "logging_steps",
        "int",
        10,
        _int(1),
        "steps between metrics lines",
        label="Log every (steps)",
        lf_default=500,
    ),
    Key(
        "save_steps",
        "int",
        500,
        _int(1),
        "steps between checkpoints",
        label="Checkpoint every (steps)",
    ),
    Key(
        "save_only_model",
        "bool",
        False,
        Flag(),
        "checkpoints hold the adapter only, no optimizer, scheduler or RNG state (smaller; "
        "`--resume` then restarts the optimizer and schedule from the checkpoint's weights)",
    ),
    Key(
        "eval_strategy",
        "str",
        "steps",
        Choice(EVAL_STRATEGIES),
        "when the held-out rows (`val_size`) are evaluated: every `eval_steps`, each epoch, "
        "or never",
        lf_default="no",
    ),
    Key(
        "eval_steps",
        "int | None",
        None,
        _int(1, optional=True),
        "steps between evaluations; none: `save_steps` (`logging_steps` under LLaMA-Factory's "
        "defaults, as transformers)",
    ),
    Key(
        "eval_on_start",
        "bool",
        False,
        Flag(),
        "evaluate the held-out rows once before the first step too (GRPO: the starting "
        "adapter's score, a candidate for `best_held_out`)",
    ),
    Key(
        "report_to",
        "list[str]",
        (),
        Reporters(REPORTERS),
        "experiment trackers besides metrics.jsonl: `tensorboard` writes event files to "
        "`<run>/tensorboard` (needs the tensorboard or tensorboardX package)",
        accepted="none, tensorboard",
    ),
    Key(
        "resume_from_checkpoint",
        "str | None",
        None,
        Text(optional=True),
        "a `checkpoint-N` of an earlier run of the same stage",
        accepted="a folder",
    ),
    # preference optimisation
    Key(
        "pref_beta", "float", 0.1, Number(float, 0, None, low_open=True), "DPO β", label="DPO beta"
    ),
    Key(
        "pref_loss",
        "str",
        "sigmoid",
        Choice(PREF_LOSSES, REFUSED_PREF_LOSSES),
        "TRL 1.16 DPO loss type",
        label="DPO loss",
    ),
    Key(
        "pref_ftx",
        "float",
        0.0,
        Number(float, 0, None),
        "DPO: weight of the chosen side's NLL (SFT) loss added to `pref_loss` (the RPO recipe)",
        label="SFT loss weight (pref_ftx)",
    ),
    # GRPO (TRL 1.16 GRPOConfig names)
    Key(
        "num_generations",
        "int",
        8,
        _int(2),
        "GRPO: answers sampled per question (the group); `per_device_train_batch_size` x "
        "`steps_per_generation` must be a multiple of it",
        label="GRPO group size",
        origin=TRL,
    ),
    Key(
        "steps_per_generation",
        "int | None",
        None,
        _int(1, optional=True),
        "GRPO: micro-batches one rollout samples answers for (TRL's meaning); none: "
        "`gradient_accumulation_steps`, a rollout per optimizer step. Above it, one rollout "
        "serves several optimizer steps (docs/TRAINING.md, GRPO)",
        origin=TRL,
    ),
    Key(
        "num_iterations",
        "int",
        1,
        _int(1),
        "GRPO: optimizer passes over each rollout's answers (TRL's μ); above 1 a rollout serves "
        "that many times its steps, each pass's update clipped by `epsilon` against the policy "
        "that sampled",
        origin=TRL,
    ),
    Key(
        "max_completion_length",
        "int",
        256,
        _int(1),
        "GRPO: most tokens of a sampled answer",
        origin=TRL,
    ),
    Key(
        "temperature",
        "float",
        1.0,
        Number(float, 0, None, low_open=True),
        "sampling temperature: of GRPO's rollouts (SFT and DPO sample nothing)",
    ),
    Key(
        "top_p",
        "float",
        1.0,
        Number(float, 0, 1, low_open=True),
        "nucleus sampling (1: off): of GRPO's rollouts (SFT and DPO sample nothing)",
    ),
    Key(
        "beta",
        "float",
        0.04,
        Number(float, 0),
        "GRPO: weight of the KL penalty against the reference (the SFT policy); 0 loads no "
        "reference and logs no KL",
        label="GRPO beta (KL)",
        origin=TRL,
    ),
    Key(
        "loss_type",
        "str",
        "dapo",
        Choice(GRPO_LOSSES),
        "GRPO: TRL 1.16 loss aggregation (`dapo`: per active token of the batch; `grpo`: per "
        "answer length; `dr_grpo`: per max_completion_length)",
        origin=TRL,
    ),
    Key(
        "epsilon",
        "float",
        0.2,
        Number(float, 0, 1, low_open=True),
        "GRPO: clipping range of the policy ratio",
        origin=TRL,
    ),
    Key(
        "epsilon_high",
        "float | None",
        None,
        Number(float, 0, low_open=True, optional=True),
        "GRPO: upper clipping bound of the policy ratio, above `epsilon` to let unlikely tokens "
        "of rewarded answers grow (DAPO's clip-higher, 0.28 in its paper; with `cispo` the "
        "weight cap, 5.0 in ScaleRL); unset: `epsilon`",
        origin=TRL,
    ),
    Key(
        "scale_rewards",
        "str",
        "group",
        Choice(SCALE_REWARDS),
        "GRPO: advantages divided by the group's reward std (`group`), the batch's (`batch`) "
        "or not at all (`none`, as Dr. GRPO)",
        origin=TRL,
    ),
    # kernels and memory
    Key(
        "flash_attn",
        "str",
        "auto",
        Choice(tuple(ATTENTION_IMPLEMENTATIONS)),
        "attention kernel: `disabled` (eager), `sdpa`, `fa2` (needs flash-attn); `auto` picks "
        "`sdpa_packed` when packing, else eager for bf16 and SDPA for float32",
    ),
    Key(
        "packing",
        "bool",
        False,
        Flag(),
        "SFT: pack examples into `cutoff_len` bins, one padding-free row per micro-batch, each "
        "example attending to itself only (as LLaMA-Factory's `neat_packing`)",
        label="Packing (SFT)",
    ),
    Key(
        "deepspeed",
        "str | None",
        None,
        Text(optional=True),
        "a DeepSpeed JSON: the run goes under `accelerate launch` with transformers' DeepSpeed "
        "integration and this file (needs the deepspeed package); overrides "
        "`distributed_backend`",
        accepted="a JSON file",
    ),
    # the studio's own keys
    Key(
        "defaults",
        "str",
        "auto",
        Choice(DEFAULTS_MODES),
        "whose defaults unset keys take: `auto` is LLaMA-Factory's when the file sets a "
        "LLaMA-Factory key the studio does not honour (docs/INTEROP.md)",
        origin=STUDIO,
    ),
    Key(
        "experts_implementation",
        "str",
        "auto",
        Choice(EXPERTS_IMPLEMENTATIONS),
        "Mixture-of-Experts models: `auto` = `studio_grouped_mm` (studio/patches/moe_experts.py) "
        "or transformers' `eager`, `grouped_mm`, `batched_mm`; dense models ignore it",
        origin=STUDIO,
    ),
    Key(
        "activation_offloading",
        "bool",
        False,
        Flag(),
        "SFT: TRL's activation offloading to CPU memory",
        origin=STUDIO,
    ),
    Key(
        "gradient_checkpointing_skip_layers",
        "int",
        0,
        _int(0),
        "with gradient checkpointing: the last N decoder layers keep their activations",
        origin=STUDIO,
    ),
    Key(
        "dpo_reference",
        "str",
        "sft_adapter",
        Choice(DPO_REFERENCES),
        "DPO's reference model (below)",
        origin=STUDIO,
        label="Reference model",
    ),
    Key(
        "precompute_ref_log_probs",
        "bool",
        False,
        Flag(),
        "DPO: compute reference log-probs once before training",
        origin=STUDIO,
    ),
    Key(
        "reward_wrong_result",
        "float",
        0.1,
        Number(float, 0, 1),
        "GRPO: reward of an answer whose SQL runs but returns another result than the gold "
        "(1 for the gold result, 0 for an error, a timeout, a refusal or no SQL)",
        origin=STUDIO,
    ),
    Key(
        "reward_overlap",
        "float",
        0.0,
        Number(float, 0, 1),
        "GRPO: partial credit added to `reward_wrong_result`, times the share of result rows the "
        "answer shares with the gold (shared rows over the rows of either)",
        origin=STUDIO,
    ),
    Key(
        "reward_format",
        "float",
        0.0,
        Number(float, 0),
        "GRPO: reward added when the answer holds its SQL in a closed ```sql block",
        origin=STUDIO,
    ),
    Key(
        "reward_timeout_s",
        "float",
        10.0,
        Number(float, 0, None, low_open=True),
        "GRPO: time limit of each rollout query (the gold's too) in the read-only executor",
        origin=STUDIO,
    ),
    Key(
        "reward_workers",
        "int",
        4,
        _int(1),
        "GRPO: queries executed at once, each in its own executor process",
        origin=STUDIO,
    ),
    Key(
        "rollout_engine",
        "str",
        "prefix",
        Choice(ROLLOUT_ENGINES),
        "GRPO: `prefix` samples with the studio's prefix engine (shared schema prefill, the "
        "LoRA applied unmerged); `trl` with TRL's own `generate`",
        origin=STUDIO,
    ),
    Key(
        "loss_over_signal_groups",
        "bool",
        False,
        Flag(),
        "GRPO with a loss_type that divides by the rollout's tokens (dapo, cispo, vespo): "
        "count only the tokens of answers whose group's rewards differ (advantage not zero), so "
        "that settled groups do not shrink the update (docs/PATCHES.md)",
        origin=STUDIO,
    ),
    Key(
        "grpo_group_by_length",
        "bool",
        True,
        Flag(),
        "GRPO: each optimizer step's answers regrouped into micro-batches of similar prompt "
        "lengths, each forward pass trimmed to its own longest prompt and answer instead of the "
        "rollout's (docs/PATCHES.md)",
        origin=STUDIO,
    ),
    Key(
        "grpo_skip_settled",
        "str | None",
        None,
        Text(optional=True),
        "GRPO: a pair-mining run id; questions whose candidates in that run were all correct "
        "or all wrong are left out (no signal for GRPO)",
        accepted="a mining run id (`pairs-<stamp>-<hex>`, its runs/ folder)",
        origin=STUDIO,
    ),
    Key(
        "max_nonfinite_steps",
        "int",
        3,
        _int(1),
        "non-finite steps in a row before the run fails",
        origin=STUDIO,
    ),
    Key(
        "num_gpus",
        "int | None",
        None,
        _int(1, optional=True),
        "processes for `accelerate launch`; none: every visible GPU",
        origin=STUDIO,
    ),
    Key(
        "distributed_backend",
        "str",
        "fsdp",
        Choice(DISTRIBUTED_BACKENDS),
        "several GPUs: configs/accelerate/<backend>.yaml",
        origin=STUDIO,
    ),
    # kernel switches (studio/patches/): one Key per switch, added here
    Key(
        "fused_rms_norm",
        "bool",
        True,
        Flag(),
        "Qwen2 / Qwen3 / Qwen3-MoE RMSNorms train with the studio's lean norm (torch's fused "
        "kernel on a GPU); false keeps transformers' norm. Listed in summary.json's `patches` "
        "when used (docs/PATCHES.md)",
        origin=STUDIO,
    ),
)

BY_NAME: dict[str, Key] = {key.name: key for key in KEYS}
# keys only stage: grpo reads (LLaMA-Factory's `temperature` and `top_p` are accepted by every
# stage, as LLaMA-Factory accepts them, and read by GRPO)
GRPO_KEYS = (
    "num_generations",
    "steps_per_generation",
    "num_iterations",
    "max_completion_length",
    "beta",
    "loss_type",
    "epsilon",
    "epsilon_high",
    "scale_rewards",
    "reward_wrong_result",
    "reward_overlap",
    "reward_format",
    "reward_timeout_s",
    "reward_workers",
    "rollout_engine",
    "loss_over_signal_groups",
    "grpo_group_by_length",
    "grpo_skip_settled",
)
