"""The model a run trains (the policy) and, for DPO, the reference it is measured against.

SFT: the base model plus a new LoRA adapter, or (adapter_name_or_path given) the last
listed adapter trained further, with any earlier ones merged into the base first.

DPO, with adapter_name_or_path = the SFT adapter (earlier ones merged into the base):
  dpo_reference: sft_adapter  the SFT adapter is loaded trainable as PEFT adapter
      "default" and TRL 1.16 adds a frozen copy named "ref"; the reference is the frozen
      SFT policy and the DPO output is a continued SFT adapter (inference stacks just it).
  dpo_reference: merged_sft   the SFT adapter is merged into the base and a new LoRA is
      trained; the reference is the merged model (the new adapter disabled) and inference
      stacks [SFT adapter, DPO adapter].
Without an SFT adapter the policy starts at the base, so the base is the right reference.

GRPO, with adapter_name_or_path = the SFT adapter: the SFT adapter is trained further (as
DPO's sft_adapter); with beta > 0 TRL adds its frozen copy "ref" as the KL reference, with
beta 0 there is no reference. Inference stacks just the output adapter.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.models.adapters import adapter_folder, check_adapters
from studio.models.references import load_model_config, recorded_reference, resolve_model_dir
from studio.patches.registry import install_before_load, install_on_model
from studio.train.config import TrainConfig

if TYPE_CHECKING:
    from peft import LoraConfig

REF_ADAPTER = "ref"
ADAPTERS_KEY = "config key 'adapter_name_or_path': "


@dataclass
class Policy:
    """A model ready for a trainer, what it was built from and how inference must use its output."""

    model: Any
    peft_config: LoraConfig | None
    reference: str
    merged_adapters: list[str] = field(default_factory=list)
    # adapters inference stacks before this run's output adapter
    inference_prefix: list[str] = field(default_factory=list)


def linear_modules(model: Any) -> list[str]:
    """The full names of the model's linear layers, the output head excepted: LLaMA-Factory's
    `lora_target: all`. Fused Mixture-of-Experts weights and routers that are not linear layers
    are left out (PEFT's `all-linear` would adapt them)."""
    import torch

    head = model.get_output_embeddings()
    return sorted(
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module is not head
    )


def lora_config(cfg: TrainConfig, model: Any) -> LoraConfig:
    """A PEFT LoraConfig from lora_rank/alpha/dropout/target for `model` ("all": every linear
    layer but the head, as LLaMA-Factory)."""
    from peft import LoraConfig

    targets = linear_modules(model) if cfg.lora_target == ["all"] else list(cfg.lora_target)
    return LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.effective_lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def load_base(cfg: TrainConfig) -> Any:
    """The base model in float32, or bfloat16 weights when bf16 is set (the LoRA stays float32).

    The config's adapters are checked against it first (studio.models.adapters), before any weight
    loads. A Mixture-of-Experts model gets `experts_implementation(cfg, config)`; a dense one
    gets none. The training patches the config turns on are installed through
    studio.patches.registry (e.g. Qwen RMSNorms get the lean forward of studio.patches.rms_norm).
    """
    import torch
    from transformers import AutoModelForCausalLM

    folder = resolve_model_dir(cfg.model_name_or_path)
    config = load_model_config(folder)
    check_adapters(cfg.adapter_name_or_path, cfg.model_name_or_path, config, where=ADAPTERS_KEY)
    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    install_before_load(cfg, config)
    experts = experts_implementation(cfg, config)
    options = {} if experts is None else {"experts_implementation": experts}
    model = AutoModelForCausalLM.from_pretrained(
        folder, config=config, dtype=dtype, attn_implementation=cfg.attn_implementation, **options
    )
    # PEFT records this as the trained adapter's base_model_name_or_path
    model.name_or_path = recorded_reference(cfg.model_name_or_path, folder)
    install_on_model(cfg, model)
    return model


def experts_implementation(cfg: TrainConfig, model_config: Any) -> str | None:
    """The experts kernel for a Mixture-of-Experts model whose experts dispatch on one (Qwen3-MoE):
    the configured one, `auto` being the studio's lean grouped_mm (studio.patches.moe_experts).
    None for any other model: it is loaded with nothing chosen."""
    from studio.patches.moe_experts import LEAN_EXPERTS, dispatches_experts

    if not dispatches_experts(model_config):
        return None
    return LEAN_EXPERTS if cfg.experts_implementation == "auto" else cfg.experts_implementation


def _merge(model: Any, adapters: list[str]) -> Any:
    from peft import PeftModel

    for adapter in adapters:
        model = PeftModel.from_pretrained(model, adapter_folder(adapter)).merge_and_unload()
    return model


def _continue_adapter(model: Any, adapter: str) -> Any:
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter_folder(adapter), is_trainable=True)


def sft_policy(cfg: TrainConfig) -> Policy:
    """The SFT policy: a new LoRA on the base, or the last given adapter trained further."""
    model = load_base(cfg)
    adapters = list(cfg.adapter_name_or_path)
    if not adapters:
        return Policy(model, lora_config(cfg, model), reference="none (SFT)")
    model = _merge(model, adapters[:-1])
    return Policy(
        _continue_adapter(model, adapters[-1]),
        None,
        reference="none (SFT)",
        merged_adapters=adapters[:-1],
        inference_prefix=adapters[:-1],
    )


def dpo_policy(cfg: TrainConfig) -> Policy:
    """The DPO policy and its reference, per `dpo_reference` (see the module docstring)."""
    model = load_base(cfg)
    adapters = list(cfg.adapter_name_or_path)
    base = cfg.model_name_or_path
    if not adapters:
        return Policy(
            model,
            lora_config(cfg, model),
            reference=f"base model {base} (no SFT adapter given: the policy starts at the base)",
        )
    if cfg.dpo_reference == "merged_sft":
        model = _merge(model, adapters)
        return Policy(
            model,
            lora_config(cfg, model),
            merged_adapters=adapters,
            inference_prefix=adapters,
            reference=(
                f"merged SFT model: {base} + {', '.join(adapters)} merged "
                "(new DPO adapter disabled)"
            ),
        )
    model = _merge(model, adapters[:-1])
    model = _continue_adapter(model, adapters[-1])
    merged = f" on {base} + {', '.join(adapters[:-1])} merged" if adapters[:-1] else f" on {base}"
    return Policy(
        model,
        None,
        merged_adapters=adapters[:-1],
        inference_prefix=adapters[:-1],
        reference=f"frozen SFT policy: copy of adapter {adapters[-1]} as PEFT adapter "
        f"'{REF_ADAPTER}'{merged}",
    )


def grpo_policy(cfg: TrainConfig) -> Policy:
    """The GRPO policy: the SFT adapter trained further (a new LoRA without one)."""
    model = load_base(cfg)
    adapters = list(cfg.adapter_name_or_path)
    base = cfg.model_name_or_path
    if not adapters:
        reference = f"base model {base} (new adapter disabled)" if cfg.beta else "none (beta 0)"
        return Policy(model, lora_config(cfg, model), reference=reference)
    model = _continue_adapter(_merge(model, adapters[:-1]), adapters[-1])
    reference = (
        f"frozen SFT policy: copy of adapter {adapters[-1]} as PEFT adapter '{REF_ADAPTER}'"
        if cfg.beta
        else "none (beta 0: no KL term)"
    )
    return Policy(
        model,
        None,
        reference=reference,
        merged_adapters=adapters[:-1],
        inference_prefix=adapters[:-1],
    )


def verify_reference(trainer: Any, policy: Policy, cfg: TrainConfig) -> None:
    """Check that the DPO trainer really uses the reference `policy` announces; freeze the ref
    adapter.

    TRL falls back to the adapters-disabled base model when it cannot add the "ref" adapter;
    for dpo_reference: sft_adapter that would silently measure against the base.
    """
    from peft import PeftModel

    if not cfg.adapter_name_or_path or cfg.dpo_reference != "sft_adapter":
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not isinstance(model, PeftModel) or REF_ADAPTER not in model.peft_config:
        raise StudioError(
            "DPO could not set up the frozen SFT reference adapter "
            "(TRL would fall back to the base model as reference); "
            "set dpo_reference: merged_sft instead"
        )
    for name, parameter in model.named_parameters():
        if f".{REF_ADAPTER}." in name:
            parameter.requires_grad_(False)


def drop_reference_copy(folder: Path) -> None:
    """Remove the frozen reference adapter's copy ("ref/") from a saved checkpoint or adapter.

    PEFT saves every adapter of a model; transformers, when resuming, loads only the
    sub-folders if any exist, so a "ref/" copy would leave the trained adapter unrestored.
    The reference is rebuilt from adapter_name_or_path on resume.
    """
    shutil.rmtree(folder / REF_ADAPTER, ignore_errors=True)
