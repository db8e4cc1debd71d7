"""Training configs: YAML with LLaMA-Factory's key names, validated before any model loads.

`load_config(path, overrides)` reads a YAML file, applies `key=value` overrides and returns
a `TrainConfig`; an unknown key, a key given twice or a bad value (a NaN or infinite number
included) raises a StudioError that names the key, the accepted values and (for a misspelt
key) the key it resembles. The keys and their checks are studio/train/keys.py; LLaMA-Factory
keys the studio does not honour get their fate from studio/train/llamafactory_keys.py.
`dump_config` writes a config back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from studio.errors import StudioError
from studio.patches.packed_attention import PACKED_ATTENTION
from studio.train.keys import (
    ATTENTION_IMPLEMENTATIONS,
    BY_NAME,
    GRPO_KEYS,
    KEYS,
    TOKEN_COUNT_LOSSES,
    UNSET,
)
from studio.train.llamafactory_keys import FATES
from studio.train.strict_yaml import load_yaml


class _ConfigMethods:
    """What a TrainConfig derives from its keys."""

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
        """The config's keys as plain YAML-ready data (LLaMA-Factory keys it does not honour
        left out)."""
        return {key.name: _plain(getattr(self, key.name)) for key in KEYS}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def _field(key: Any) -> tuple[str, str, Any]:
    if isinstance(key.default, tuple):
        default = key.default
        return key.name, key.type, dataclasses.field(default_factory=lambda: list(default))
    return key.name, key.type, dataclasses.field(default=key.default)


# One training run (SFT, DPO or GRPO with LoRA): a field per key of studio/train/keys.py (`dataset`
# first: it has no default), then `llamafactory_keys` (LLaMA-Factory keys the studio does not
# honour, as given) and `lf_defaults` (keys that took LLaMA-Factory's default in this load).
TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [
        ("dataset", "list[str]"),
        *(_field(key) for key in KEYS if key.name != "dataset"),
        ("llamafactory_keys", "dict[str, Any]", dataclasses.field(default_factory=dict)),
        ("lf_defaults", "dict[str, Any]", dataclasses.field(default_factory=dict, repr=False)),
    ],
    bases=(_ConfigMethods,),
    namespace={
        "__doc__": "One training run (SFT, DPO or GRPO with LoRA); keys: studio/train/keys.py.",
        "__module__": __name__,
    },
)

KNOWN_KEYS = tuple(key.name for key in KEYS)
VALIDATORS = {key.name: key.check for key in KEYS}


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, transpositions."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(
                rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def misspelt_key(key: str) -> str | None:
    """The known key `key` is a misspelling of: the same words, each spelt within one edit (two
    for words of 8 letters or more). A key made of other words is not suggested, however close
    its letters: `warmup_steps` is not `warmup_ratio`, nor `local_rank` `lora_rank`."""
    words = key.split("_")
    best: tuple[int, str] | None = None
    for known in (*KNOWN_KEYS, *FATES):
        known_words = known.split("_")
        if len(known_words) != len(words):
            continue
        costs = [_edits(w, k) for w, k in zip(words, known_words, strict=True)]
        if all(c <= (2 if len(k) >= 8 else 1) for c, k in zip(costs, known_words, strict=True)):
            if best is None or sum(costs) < best[0]:
                best = (sum(costs), known)
    return best[1] if best else None


def _unknown_key_error(key: str, source: str) -> StudioError:
    close = misspelt_key(key)
    hint = f"did you mean '{close}'?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
    return StudioError(
        f"{source}: unknown config key '{key}'; {hint} (LLaMA-Factory's keys: docs/INTEROP.md)"
    )


def uses_llamafactory_defaults(data: dict[str, Any]) -> bool:
    """Whether unset keys take LLaMA-Factory's defaults: `defaults: llamafactory`, or `auto` (the
    default) and the mapping sets a LLaMA-Factory key the studio does not honour."""
    mode = data.get("defaults", "auto")
    return mode == "llamafactory" or (mode == "auto" and any(key in FATES for key in data))


def config_from_mapping(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """Validate a mapping of config keys into a TrainConfig (StudioError on the first problem)."""
    values: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, raw in data.items():
        if key in FATES:
            other[key] = raw
            continue
        if key not in BY_NAME:
            raise _unknown_key_error(str(key), source)
        try:
            values[key] = BY_NAME[key].check(key, raw)
        except StudioError as error:
            raise StudioError(f"{source}: {error}") from None
    if not values.get("dataset"):
        raise StudioError(
            f"{source}: config key 'dataset' is required (registered dataset names, "
            "comma-separated); list them with `python -m studio data list`"
        )
    for key, raw in other.items():
        fate = FATES[key]
        if fate.changes_training(raw):
            raise StudioError(
                f"{source}: config key '{key}': {raw!r} asks for LLaMA-Factory's {fate.reason}, "
                f"which the studio does not support; remove the key or set it to "
                f"{fate.inert[0]!r}"
            )
    lf_defaults: dict[str, Any] = {}
    if uses_llamafactory_defaults(data):
        values["defaults"] = "llamafactory"
        lf_defaults = {
            key.name: key.lf_default
            for key in KEYS
            if key.lf_default is not UNSET and key.name not in values
        }
        if "eval_steps" not in values:
            lf_defaults["eval_steps"] = values.get(
                "logging_steps", lf_defaults.get("logging_steps")
            )
    elif values.get("defaults", "auto") == "auto":
        values["defaults"] = "studio"
    values.update(lf_defaults)
    _resolve_checkpointing(values, data, source)
    config = TrainConfig(**values, llamafactory_keys=other, lf_defaults=lf_defaults)
    _check_combinations(config, source)
    return config


def _resolve_checkpointing(values: dict[str, Any], data: dict[str, Any], source: str) -> None:
    """`disable_gradient_checkpointing: true` turns `gradient_checkpointing` off (refused when the
    mapping also sets gradient_checkpointing: true)."""
    if not values.get("disable_gradient_checkpointing"):
        return
    if "gradient_checkpointing" in data and values.get("gradient_checkpointing"):
        raise StudioError(
            f"{source}: config keys 'gradient_checkpointing: true' and "
            "'disable_gradient_checkpointing: true' contradict each other; keep one"
        )
    values["gradient_checkpointing"] = False


def _check_combinations(cfg: TrainConfig, source: str) -> None:
    if cfg.max_steps == 0:
        raise StudioError(
            f"{source}: config key 'max_steps': 0 trains nothing; use -1 (train num_train_epochs) "
            "or a positive number of steps"
        )
    for target in cfg.lora_target:
        if target != "all" and not target.replace("_", "").replace(".", "").isalnum():
            raise StudioError(
                f"{source}: config key 'lora_target': {target!r} is not a module name; use "
                "'all' or comma-separated names such as q_proj,k_proj,v_proj"
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
            f"{source}: config key 'pref_ftx' adds the SFT loss to pref_loss, which is already "
            "'sft'; set pref_loss to a preference loss such as sigmoid, or pref_ftx to 0"
        )
    for key in ("packing", "activation_offloading"):
        if cfg.stage == "dpo" and getattr(cfg, key):
            raise StudioError(
                f"{source}: config key '{key}' applies to stage: sft only; remove it for DPO"
            )
    _check_grpo(cfg, source)
    if cfg.gradient_checkpointing_skip_layers and not cfg.gradient_checkpointing:
        raise StudioError(
            f"{source}: config key 'gradient_checkpointing_skip_layers' chooses layers that skip "
            "gradient checkpointing, which is off; set gradient_checkpointing: true, or "
            "gradient_checkpointing_skip_layers to 0"
        )


def _check_grpo(cfg: TrainConfig, source: str) -> None:
    """GRPO's keys belong to stage: grpo, whose batch must hold whole groups of answers."""
    if cfg.stage != "grpo":
        for key in GRPO_KEYS:
            if getattr(cfg, key) != BY_NAME[key].default:
                raise StudioError(
                    f"{source}: config key '{key}' applies to stage: grpo only; remove it for "
                    f"stage: {cfg.stage}"
                )
        return
    for key in ("packing", "activation_offloading", "pref_ftx", "precompute_ref_log_probs"):
        if getattr(cfg, key):
            raise StudioError(f"{source}: config key '{key}' does not apply to stage: grpo")
    if cfg.loss_over_signal_groups and cfg.loss_type not in TOKEN_COUNT_LOSSES:
        raise StudioError(
            f"{source}: config key 'loss_over_signal_groups' changes the divisor of the losses "
            f"that divide by the rollout's tokens ({', '.join(TOKEN_COUNT_LOSSES)}); loss_type "
            f"{cfg.loss_type} divides otherwise: set loss_type: dapo or remove the key"
        )
    # TRL's GRPOConfig: the generation batch (per device, x processes) holds whole groups
    steps = cfg.steps_per_generation or cfg.gradient_accumulation_steps
    factor = "steps_per_generation" if cfg.steps_per_generation else "gradient_accumulation_steps"
    answers = cfg.per_device_train_batch_size * steps
    if answers % cfg.num_generations:
        unset = "" if cfg.steps_per_generation else " (steps_per_generation unset)"
        raise StudioError(
            f"{source}: config keys 'per_device_train_batch_size' x '{factor}'{unset} = "
            f"{answers} answers per rollout must be a multiple of 'num_generations' "
            f"({cfg.num_generations}), the answers sampled per question; raise {factor} or set "
            "num_generations to a divisor"
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
    """The config as YAML (loadable again with load_config), the LLaMA-Factory keys it does not
    honour last, as given."""
    data = {**cfg.to_dict(), **cfg.llamafactory_keys}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
