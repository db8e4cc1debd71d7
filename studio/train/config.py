"""Training configs: YAML with LLaMA-Factory's key names, validated before any model loads.

`load_config(path, overrides)` reads a YAML file, applies `key=value` overrides and returns
a `TrainConfig`; an unknown key, a key given twice or a bad value (a NaN or infinite number
included) raises a StudioError that names the key, the accepted values and (for a typo) the
closest known key. `dump_config` writes it back.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio.errors import StudioError
from studio.patches.packed_attention import PACKED_ATTENTION
from studio.train.strict_yaml import load_yaml

DEFAULT_MODEL = "builtin:qwen2.5-coder-0.5b-instruct"
STAGES = ("sft", "dpo")
FINETUNING_TYPES = ("lora",)
DPO_REFERENCES = ("sft_adapter", "merged_sft")
DISTRIBUTED_BACKENDS = ("fsdp", "deepspeed_zero3")
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
# LLaMA-Factory template name -> model_type prefix it is written for (None: any model)
TEMPLATE_FAMILIES: dict[str, str | None] = {
    "default": None,
    "empty": None,
    "chatml": None,
    "qwen": "qwen2",
    "qwen2_vl": "qwen2",
    "qwen3": "qwen3",
    "qwen3_nothink": "qwen3",
    "llama2": "llama",
    "llama3": "llama",
    "mistral": "mistral",
    "gemma": "gemma",
    "gemma3": "gemma3",
    "deepseek": "deepseek",
    "deepseek3": "deepseek_v3",
    "deepseekcoder": "llama",
    "phi": "phi3",
    "phi4": "phi3",
    "glm4": "glm4",
    "yi": "llama",
}
# LLaMA-Factory keys that have no effect in the studio: accepted (so existing files load) and reported.
IGNORED_KEYS: dict[str, str] = {
    "do_train": "every studio training run trains",
    "overwrite_output_dir": "each run writes to its own run folder",
    "overwrite_cache": "datasets are tokenized per run",
    "plot_loss": "the studio plots metrics.jsonl live",
    "report_to": "metrics go to the run's metrics.jsonl",
    "preprocessing_num_workers": "tokenization runs in the worker process",
    "dataloader_num_workers": "the worker uses the trainer's default",
    "ddp_timeout": "use configs/accelerate/ for distributed settings",
    "trust_remote_code": "the studio loads only local models with built-in architectures",
    "deepspeed": "set distributed_backend: deepspeed_zero3 instead",
}


@dataclass
class TrainConfig:
    """One training run (SFT or DPO with LoRA). Field names follow LLaMA-Factory."""

    dataset: list[str]
    model_name_or_path: str = DEFAULT_MODEL
    adapter_name_or_path: list[str] = field(default_factory=list)
    stage: str = "sft"
    finetuning_type: str = "lora"
    lora_rank: int = 8
    lora_alpha: int | None = None
    lora_dropout: float = 0.0
    lora_target: list[str] = field(default_factory=lambda: ["all"])
    template: str | None = None
    cutoff_len: int = 2048
    max_samples: int | None = None
    val_size: float = 0.0
    per_device_train_batch_size: int = 1
    per_device_eval_batch_size: int | None = None
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    num_train_epochs: float = 3.0
    max_steps: int = -1
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    bf16: bool = False
    gradient_checkpointing: bool = False
    output_dir: str | None = None
    logging_steps: int = 10
    save_steps: int = 500
    eval_steps: int | None = None
    seed: int = 42
    pref_beta: float = 0.1
    pref_loss: str = "sigmoid"
    pref_ftx: float = 0.0
    resume_from_checkpoint: str | None = None
    flash_attn: str = "auto"
    packing: bool = False
    # studio keys
    dpo_reference: str = "sft_adapter"
    precompute_ref_log_probs: bool = False
    activation_offloading: bool = False
    # decoder layers, counted from the last, that keep their activations under gradient_checkpointing
    gradient_checkpointing_skip_layers: int = 0
    max_nonfinite_steps: int = 3
    num_gpus: int | None = None
    distributed_backend: str = "fsdp"
    experts_implementation: str = "auto"
    fused_rms_norm: bool = True
    ignored_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def attn_implementation(self) -> str:
        """The attention kernel to train with.

        `auto` picks `sdpa_packed` (per-example SDPA, studio.patches.packed_attention) when packing,
        else eager attention for bf16 and SDPA otherwise: on an H100, SDPA's bf16 backward
        turned LoRA gradients non-finite on right-padded rows while eager attention,
        float32 and unpadded rows stayed finite on the same batches (docs/TRAINING.md).
        """
        chosen = ATTENTION_IMPLEMENTATIONS[self.flash_attn]
        if chosen:
            return chosen
        if self.packing:
            return PACKED_ATTENTION
        return "eager" if self.bf16 else "sdpa"

    @property
    def effective_lora_alpha(self) -> int:
        """lora_alpha, defaulting to twice the rank as LLaMA-Factory does."""
        return self.lora_alpha if self.lora_alpha is not None else 2 * self.lora_rank

    def to_dict(self) -> dict[str, Any]:
        """The config as plain YAML-ready data (ignored LLaMA-Factory keys left out)."""
        data = dataclasses.asdict(self)
        data.pop("ignored_keys")
        return data


KNOWN_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name != "ignored_keys")


def _as_str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudioError(f"config key '{key}': expected a non-empty string, got {value!r}")
    return value.strip()


def _as_optional_str(key: str, value: Any) -> str | None:
    return None if value in (None, "") else _as_str(key, value)


def _as_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value]
    elif value is None:
        items = []
    else:
        raise StudioError(
            f"config key '{key}': expected a comma-separated string or a list of strings, got {value!r}"
        )
    return [item for item in items if item]


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise StudioError(f"config key '{key}': expected true or false, got {value!r}")


def _number(
    key: str,
    value: Any,
    kind: type,
    low: float | None,
    high: float | None,
    high_open: bool = False,
    low_open: bool = False,
) -> Any:
    if isinstance(value, str):
        try:
            value = float(value) if kind is float else int(value)
        except ValueError:
            pass
    if isinstance(value, float) and not math.isfinite(value):
        raise StudioError(
            f"config key '{key}': {value!r} is not a finite number; give "
            f"{'an integer' if kind is int else 'a number'}"
            f"{_range_text(low, high, high_open, low_open)}"
        )
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and value != int(value))
    ):
        raise StudioError(
            f"config key '{key}': expected {'an integer' if kind is int else 'a number'}"
            f"{_range_text(low, high, high_open, low_open)}, got {value!r}"
        )
    value = kind(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise StudioError(
            f"config key '{key}': {value!r} is out of range; accepted:"
            f"{_range_text(low, high, high_open, low_open)}"
        )
    return value


def _range_text(low: float | None, high: float | None, high_open: bool, low_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return f" {' and '.join(parts)}" if parts else ""


def _choice(choices: Sequence[str]) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            raise StudioError(
                f"config key '{key}': {value!r} is not accepted; use one of {', '.join(choices)}"
            )
        return value

    return check


def _int(low: float | None = None, high: float | None = None) -> Callable[[str, Any], int]:
    return lambda key, value: _number(key, value, int, low, high)


def _float(
    low: float | None = None,
    high: float | None = None,
    high_open: bool = False,
    low_open: bool = False,
) -> Callable[[str, Any], float]:
    return lambda key, value: _number(key, value, float, low, high, high_open, low_open)


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    return lambda key, value: None if value is None else check(key, value)


def _val_size(key: str, value: Any) -> float:
    number = _number(key, value, float, 0, None)
    if number >= 1 and number != int(number):
        raise StudioError(
            f"config key '{key}': {value!r} is neither a fraction in [0, 1) nor a whole number of rows"
        )
    return number


VALIDATORS: dict[str, Callable[[str, Any], Any]] = {
    "dataset": lambda key, value: _as_list(key, value),
    "model_name_or_path": _as_str,
    "adapter_name_or_path": _as_list,
    "stage": _choice(STAGES),
    "finetuning_type": _choice(FINETUNING_TYPES),
    "lora_rank": _int(1, 4096),
    "lora_alpha": _optional(_int(1)),
    "lora_dropout": _float(0, 1, high_open=True),
    "lora_target": _as_list,
    "template": _as_optional_str,
    "cutoff_len": _int(16),
    "max_samples": _optional(_int(1)),
    "val_size": _val_size,
    "per_device_train_batch_size": _int(1),
    "per_device_eval_batch_size": _optional(_int(1)),
    "gradient_accumulation_steps": _int(1),
    "learning_rate": _float(0, 1, low_open=True),
    "num_train_epochs": _float(0, None, low_open=True),
    "max_steps": _int(-1),
    "lr_scheduler_type": _choice(LR_SCHEDULERS),
    "warmup_ratio": _float(0, 1, high_open=True),
    "max_grad_norm": _float(0),
    "bf16": _as_bool,
    "gradient_checkpointing": _as_bool,
    "output_dir": _as_optional_str,
    "logging_steps": _int(1),
    "save_steps": _int(1),
    "eval_steps": _optional(_int(1)),
    "seed": _int(0),
    "pref_beta": _float(0, None, low_open=True),
    "pref_loss": _choice(PREF_LOSSES),
    "pref_ftx": _float(0, None),
    "resume_from_checkpoint": _as_optional_str,
    "flash_attn": _choice(tuple(ATTENTION_IMPLEMENTATIONS)),
    "packing": _as_bool,
    "dpo_reference": _choice(DPO_REFERENCES),
    "precompute_ref_log_probs": _as_bool,
    "activation_offloading": _as_bool,
    "gradient_checkpointing_skip_layers": _int(0),
    "max_nonfinite_steps": _int(1),
    "num_gpus": _optional(_int(1)),
    "distributed_backend": _choice(DISTRIBUTED_BACKENDS),
    "experts_implementation": _choice(EXPERTS_IMPLEMENTATIONS),
    "fused_rms_norm": _as_bool,
}


def _unknown_key_error(key: str, source: str) -> StudioError:
    close = difflib.get_close_matches(key, KNOWN_KEYS + tuple(IGNORED_KEYS), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
    return StudioError(f"{source}: unknown config key '{key}'; {hint}")


def config_from_mapping(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """Validate a mapping of LLaMA-Factory keys into a TrainConfig (StudioError on the first problem)."""
    values: dict[str, Any] = {}
    ignored: dict[str, Any] = {}
    for key, raw in data.items():
        if key in IGNORED_KEYS:
            ignored[key] = raw
            continue
        if key not in VALIDATORS:
            raise _unknown_key_error(str(key), source)
        try:
            values[key] = VALIDATORS[key](key, raw)
        except StudioError as error:
            raise StudioError(f"{source}: {error}") from None
    if not values.get("dataset"):
        raise StudioError(
            f"{source}: config key 'dataset' is required (registered dataset names, comma-separated); "
            "list them with `python -m studio data list`"
        )
    config = TrainConfig(**values, ignored_keys=ignored)
    _check_combinations(config, source)
    return config


def _check_combinations(cfg: TrainConfig, source: str) -> None:
    if cfg.max_steps == 0:
        raise StudioError(
            f"{source}: config key 'max_steps': 0 trains nothing; use -1 (train num_train_epochs) "
            "or a positive number of steps"
        )
    for target in cfg.lora_target:
        if target != "all" and not target.replace("_", "").replace(".", "").isalnum():
            raise StudioError(
                f"{source}: config key 'lora_target': {target!r} is not a module name; use 'all' or "
                "comma-separated names such as q_proj,k_proj,v_proj"
            )
    if "all" in cfg.lora_target and len(cfg.lora_target) > 1:
        raise StudioError(
            f"{source}: config key 'lora_target': 'all' already means every linear layer; "
            "give either 'all' or a list of module names"
        )
    for key in ("precompute_ref_log_probs", "pref_ftx"):
        if cfg.stage == "sft" and getattr(cfg, key):
            raise StudioError(f"{source}: config key '{key}' applies to stage: dpo only")
    if cfg.pref_ftx and cfg.pref_loss == "sft":
        raise StudioError(
            f"{source}: config key 'pref_ftx' adds the SFT loss to pref_loss, which is already 'sft'; "
            "set pref_loss to a preference loss such as sigmoid, or pref_ftx to 0"
        )
    for key in ("packing", "activation_offloading"):
        if cfg.stage == "dpo" and getattr(cfg, key):
            raise StudioError(
                f"{source}: config key '{key}' applies to stage: sft only; remove it for DPO"
            )
    if cfg.gradient_checkpointing_skip_layers and not cfg.gradient_checkpointing:
        raise StudioError(
            f"{source}: config key 'gradient_checkpointing_skip_layers' chooses layers that skip "
            "gradient checkpointing, which is off; set gradient_checkpointing: true, or "
            "gradient_checkpointing_skip_layers to 0"
        )


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` -> (key, YAML-parsed value)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise StudioError(f"override {text!r} is not key=value (e.g. --set learning_rate=1e-4)")
    return key.strip(), load_yaml(value, f"override {text!r}") if value.strip() else None


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a training YAML, apply `key=value` overrides and validate it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudioError(f"config file not found: {path}") from None
    data = load_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise StudioError(f"{path}: the top level must be a mapping of config keys to values")
    for override in overrides:
        key, value = parse_override(override)
        data[key] = value
    return config_from_mapping(data, source=str(path))


def dump_config(cfg: TrainConfig) -> str:
    """The config as YAML (loadable again with load_config)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)
