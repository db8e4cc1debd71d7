"""Loading a model for inference: the base weights plus a checked LoRA adapter stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.models.adapters import check_adapters
from studio.models.cache import Log, log_to_stderr
from studio.models.references import load_model_config, load_tokenizer, resolve_model_dir

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class LoadedModel:
    """A model ready for inference, with its tokenizer and what it was built from."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    ref: str
    adapters: tuple[str, ...]
    merged: bool


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(
    ref: str,
    adapters: Sequence[str | Path] = (),
    merge: bool = False,
    dtype: str | None = None,
    device: str | None = None,
    log: Log = log_to_stderr,
) -> LoadedModel:
    """Load `ref` plus LoRA `adapters` (stacked in order) for inference.

    merge=True folds each adapter into the base weights (fastest generation); otherwise
    the adapters stay separate and are all active. dtype defaults to float32 on CPU and
    bfloat16 on CUDA. The adapters are checked against the base (studio.models.adapters) before
    any weight loads.
    """
    import torch
    from transformers import AutoModelForCausalLM

    device = device or default_device()
    dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    folder = resolve_model_dir(ref, log)
    config = load_model_config(folder)
    checked = check_adapters(adapters, ref, config)
    model = AutoModelForCausalLM.from_pretrained(folder, config=config, dtype=getattr(torch, dtype))
    model = _apply_adapters(model, checked, merge)
    model.to(device).eval()
    return LoadedModel(model, load_tokenizer(ref), ref, tuple(str(a) for a in adapters), merge)


def _apply_adapters(model: Any, adapters: list[Path], merge: bool) -> Any:
    if not adapters:
        return model
    from peft import PeftModel

    if merge:
        for adapter in adapters:
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        return model
    names = [f"adapter_{i}" for i in range(len(adapters))]
    model = PeftModel.from_pretrained(model, adapters[0], adapter_name=names[0])
    for adapter, name in zip(adapters[1:], names[1:], strict=False):
        model.load_adapter(adapter, adapter_name=name)
    model.base_model.set_adapter(names)
    return model
