"""`lora_target` checked against the model's modules, on the meta device (no weights).

PEFT fails only when no target matches at all, so `q_proj,qv_proj` would train q_proj alone
without a word. Here PEFT itself applies the config to the model built on the meta device
(so its own matching decides, including the expert names it maps onto fused MoE weights),
and every target must add LoRA weights that the others do not.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.models.references import meta_model
from studio.train.config import TrainConfig
from studio.train.policy import lora_config

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig

KEY = "config key 'lora_target'"


def check_lora_target(cfg: TrainConfig, model_config: PretrainedConfig) -> None:
    """A StudioError when PEFT cannot apply `lora_target` to the model, or one of its names adds
    nothing; it lists the model's linear layers."""
    model = meta_model(model_config)
    layers = ", ".join(linear_layer_names(model))
    fix = f"its linear layers are {layers}; name some of them, or 'all'"
    where = f"{cfg.model_name_or_path} ({model_config.model_type})"
    try:
        weights = lora_weight_names(cfg, model)
    except (ValueError, TypeError) as error:
        raise StudioError(
            f"{KEY}: PEFT cannot put a LoRA on {', '.join(cfg.lora_target)} of "
            f"{where} ({error}); {fix}"
        ) from None
    if len(cfg.lora_target) < 2:
        return
    for target in cfg.lora_target:
        others = dataclasses.replace(cfg, lora_target=[t for t in cfg.lora_target if t != target])
        try:
            unchanged = lora_weight_names(others, meta_model(model_config)) == weights
        except (ValueError, TypeError):
            unchanged = False  # PEFT needs this target (e.g. a partner of a fused MoE weight)
        if unchanged:
            why = _adds_nothing(cfg, target, model_config)
            raise StudioError(f"{KEY}: '{target}' {why} of {where}; {fix}")


def _adds_nothing(cfg: TrainConfig, target: str, model_config: PretrainedConfig) -> str:
    """Why `target` adds no LoRA weight: it matches nothing, or only what the other names cover."""
    try:
        lora_weight_names(dataclasses.replace(cfg, lora_target=[target]), meta_model(model_config))
    except (ValueError, TypeError):
        return "matches no module"
    return "only repeats modules the other names already cover"


def lora_weight_names(cfg: TrainConfig, model: torch.nn.Module) -> set[str]:
    """The LoRA tensors PEFT adds to `model` (on the meta device) for the config's lora_target."""
    import torch
    from peft import get_peft_model_state_dict, inject_adapter_in_model

    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        inject_adapter_in_model(lora_config(cfg, model), model)
    return set(get_peft_model_state_dict(model, save_embedding_layers=False))


def linear_layer_names(model: torch.nn.Module) -> list[str]:
    """The distinct last names of the model's linear layers, the head excepted."""
    import torch

    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    return sorted(names - {"lm_head"})
