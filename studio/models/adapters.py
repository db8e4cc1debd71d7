"""LoRA adapter folders, checked against the base model before PEFT loads them.

`check_adapters(adapters, base_ref, model_config)` is the gate every path that applies an
adapter goes through (inference in studio.models.references, training in studio.train.policy, and
`train --check`). For each folder, with no base weights loaded:
  - it holds adapter_config.json and adapter_model.safetensors;
  - its tensors fit the base: the LoRA that PEFT builds from adapter_config.json on the base
    model's config (on the meta device) has exactly the tensor names and shapes of the
    file's safetensors header;
  - it was trained on this base: the recorded base (`base_model_name_or_path` in
    adapter_config.json, else `model_name_or_path` in the config.yaml of the run folder
    that wrote it) is the same model (studio.models.references.model_identity);
  - every tensor is finite.
Each failure is a StudioError that names the adapter, its base, the model and the fix.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.jobs.rundir import ADAPTER_CONFIG, RunDir
from studio.models.cache import safetensors_header
from studio.models.references import meta_model, model_identity

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig

ADAPTER_WEIGHTS = "adapter_model.safetensors"
# PEFT saves a causal LM's LoRA tensors under the PeftModel's own prefix
PEFT_PREFIX = "base_model.model."


class NonFiniteWeightsError(StudioError):
    """An adapter (in memory or on disk) holds NaN or infinite weights."""


def adapter_folder(path: str | Path, where: str = "") -> Path:
    """The resolved adapter folder, or a StudioError (prefixed by `where`) when it is none."""
    folder = Path(path).expanduser()
    if not (folder / ADAPTER_CONFIG).is_file():
        raise StudioError(
            f"{where}{folder} is not a LoRA adapter folder (no {ADAPTER_CONFIG}); "
            "give the adapter/ folder of a training run"
        )
    return folder.resolve()


def check_adapters(
    adapters: Sequence[str | Path], base_ref: str, model_config: PretrainedConfig, where: str = ""
) -> list[Path]:
    """The adapter folders, each checked against the base `base_ref` (see the module docstring)."""
    folders = [adapter_folder(adapter, where) for adapter in adapters]
    for folder in folders:
        recorded = recorded_base(folder)
        check_fit(folder, base_ref, model_config, recorded)
        check_base(folder, base_ref, recorded)
        assert_finite_adapter(folder)
    return folders


def recorded_base(folder: Path) -> str | None:
    """The base model reference the adapter says it was trained on (None: none recorded)."""
    base = _adapter_config(folder).get("base_model_name_or_path")
    if isinstance(base, str) and base:
        return base
    run_config = RunDir(folder.parent).train_config
    if run_config.is_file():
        from studio.train.config import load_config

        try:
            return load_config(run_config).model_name_or_path
        except StudioError:
            return None
    return None


def check_base(folder: Path, base_ref: str, recorded: str | None) -> None:
    """A StudioError when the adapter records another base than `base_ref`."""
    if recorded is None or model_identity(recorded) == model_identity(base_ref):
        return
    raise StudioError(
        f"adapter {folder} was trained on {recorded}, not on {base_ref}, the model it is applied "
        f"to: use it with {recorded}, or train an adapter on {base_ref}. If both are the same "
        f'model, set "base_model_name_or_path": "{base_ref}" in {folder / ADAPTER_CONFIG}'
    )


def check_fit(
    folder: Path, base_ref: str, model_config: PretrainedConfig, recorded: str | None
) -> None:
    """A StudioError when the adapter's tensor names or shapes do not fit the model."""
    mismatch = f"adapter {folder} does not fit {base_ref}"
    fix = (
        f"it was trained on {recorded or 'another model'}: use it with that model, or train an "
        f"adapter on {base_ref}"
    )
    try:
        lora, base = expected_shapes(folder, model_config)
    except (ValueError, TypeError, KeyError) as error:
        raise StudioError(f"{mismatch}: PEFT cannot apply it ({error}); {fix}") from None
    found = {name.removeprefix(PEFT_PREFIX): shape for name, shape in file_shapes(folder).items()}
    # besides its LoRA tensors an adapter may hold whole layers of the base (a resized embedding)
    expected = {**{name: shape for name, shape in base.items() if name in found}, **lora}
    problems = [
        f"{name} is {found[name]} in the adapter but {shape} for this model"
        for name, shape in expected.items()
        if name in found and found[name] != shape
    ]
    problems += [
        f"it holds {name}, which this model has no module for"
        for name in found
        if name not in expected
    ]
    problems += [
        f"it lacks {name}, which its {ADAPTER_CONFIG} targets in this model"
        for name in lora
        if name not in found
    ]
    if problems:
        raise StudioError(f"{mismatch}: {problems[0]} ({len(problems)} tensor(s) differ); {fix}")


def expected_shapes(
    folder: Path, model_config: PretrainedConfig
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """The tensor names and shapes PEFT gives the folder's LoRA config on this model, and those
    of the model's own parameters (built on the meta device). PEFT's ValueError, TypeError or
    KeyError when it cannot apply the config."""
    import torch
    from peft import PeftConfig, get_peft_model_state_dict, inject_adapter_in_model

    model = meta_model(model_config)
    base = {name: list(parameter.shape) for name, parameter in model.named_parameters()}
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        inject_adapter_in_model(PeftConfig.from_pretrained(str(folder)), model)
    # save_embedding_layers=False: PEFT's "auto" would look the recorded base up (on the Hub)
    lora = get_peft_model_state_dict(model, save_embedding_layers=False)
    return {name: list(tensor.shape) for name, tensor in lora.items()}, base


def file_shapes(folder: Path) -> dict[str, list[int]]:
    """Tensor names and shapes of the adapter's safetensors file, read from its header."""
    path = _weights_file(folder)
    try:
        header = safetensors_header(path)
    except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StudioError(
            f"{path} is not a readable safetensors file ({error}); retrain the "
            "adapter or copy it again"
        ) from None
    return {name: list(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


def nonfinite_tensors(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or infinity."""
    import torch

    return [
        name
        for name, tensor in tensors.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]


def assert_finite_adapter(adapter_dir: str | Path) -> None:
    """Raise NonFiniteWeightsError naming the adapter's first non-finite tensors."""
    from safetensors.torch import load_file

    folder = Path(adapter_dir)
    bad = nonfinite_tensors(load_file(_weights_file(folder)))
    if bad:
        raise NonFiniteWeightsError(
            f"adapter {folder} holds NaN or infinite weights in {len(bad)} tensor(s) (first: "
            f"{', '.join(bad[:3])}); it cannot be used: retrain it, or use an earlier checkpoint "
            "of its run"
        )


def _weights_file(folder: Path) -> Path:
    path = folder / ADAPTER_WEIGHTS
    if not path.is_file():
        raise StudioError(
            f"{folder} holds no {ADAPTER_WEIGHTS}; it is not a saved LoRA adapter "
            "(the studio loads adapter weights from safetensors only)"
        )
    return path


def _adapter_config(folder: Path) -> dict:
    path = folder / ADAPTER_CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StudioError(
            f"{path} is not readable JSON ({error}); copy the adapter again"
        ) from None
    if not isinstance(data, dict) or data.get("peft_type") != "LORA":
        kind = data.get("peft_type") if isinstance(data, dict) else None
        raise StudioError(
            f"{folder} is not a LoRA adapter ({ADAPTER_CONFIG} gives peft_type "
            f"{kind!r}); the studio applies LoRA adapters only"
        )
    return data
