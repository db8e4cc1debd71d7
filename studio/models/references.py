"""Model references, resolved in one place.

A reference is one of:
  builtin:<name>          a built-in model (default: builtin:qwen2.5-coder-0.5b-instruct)
  /path/to/hf-folder      a local Hugging Face model folder (config.json + weights)
  /path/to/model.gguf     a local GGUF file, converted once into the model cache
Adapters are local PEFT LoRA folders, applied in order on top of the base.
A built-in model's tokenizer alone comes from a tokenizer-only folder, so loading it never
converts the weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.models.builtin import (
    BUILTIN_MODELS,
    builtin_folder,
    ensure_builtin,
    ensure_builtin_tokenizer,
)
from studio.models.cache import (
    CONVERT_STEPS,
    Log,
    NumberedLog,
    cache_root,
    convert_gguf,
    log_to_stderr,
    safetensors_header,
)

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

BUILTIN_PREFIX = "builtin:"
DEFAULT_MODEL = "builtin:qwen2.5-coder-0.5b-instruct"
TOKENIZER_CONFIG = "tokenizer_config.json"


def resolve_model_dir(ref: str, log: Log = log_to_stderr) -> Path:
    """A local Hugging Face folder for `ref`, converting a built-in or GGUF model first."""
    if ref.startswith(BUILTIN_PREFIX):
        return ensure_builtin(ref[len(BUILTIN_PREFIX) :], log)
    path = Path(ref).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise StudioError(f"GGUF file not found: {path}")
        return _ensure_gguf(path.resolve(), log)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise StudioError(
                f"{path} has no config.json, so it is not a Hugging Face model folder; "
                "pass the folder that holds config.json and the weights"
            )
        return path.resolve()
    raise StudioError(
        f"model '{ref}' not found: use builtin:<name>, a local model folder or a .gguf file "
        "(models are never downloaded at run time)"
    )


def _gguf_cache_folder(path: Path) -> Path:
    """Where the GGUF file `path` (as it is now: size and mtime) is converted to."""
    stat = path.stat()
    key = hashlib.sha256(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_root() / "models" / f"{path.stem}-{key}"


def _ensure_gguf(path: Path, log: Log) -> Path:
    stat = path.stat()
    source = {"ref": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return convert_gguf(path, _gguf_cache_folder(path), source, NumberedLog(log, CONVERT_STEPS))


def model_identity(ref: str) -> str:
    """One name per model, shared by every reference to it, found without converting anything.

    `builtin:<name>` for a built-in model and for its cache folder (on this machine, or a
    `.../models/<name>` folder recorded on another); a GGUF file's cache folder for the file
    and for that folder; the resolved path for a local folder; `ref` itself otherwise.
    """
    if ref.startswith(BUILTIN_PREFIX):
        return ref
    path = Path(ref).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return str(_gguf_cache_folder(path.resolve()))
    for name, model in BUILTIN_MODELS.items():
        here = path.exists() and path.resolve() == builtin_folder(model).resolve()
        elsewhere = not path.exists() and path.parent.name == "models" and path.name == name
        if here or elsewhere:
            return BUILTIN_PREFIX + name
    return str(path.resolve()) if path.exists() else ref


def recorded_reference(ref: str, folder: Path) -> str:
    """What a trained adapter records as its base: the portable `builtin:<name>` for a
    built-in model, else the model folder `ref` resolved to."""
    return ref if ref.startswith(BUILTIN_PREFIX) else str(folder)


def load_model_config(folder: Path) -> PretrainedConfig:
    """The transformers config of the model folder (its config.json), or a StudioError."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as error:
        raise StudioError(
            f"{folder / 'config.json'} is not a config transformers can build a "
            f"model from ({error}); fix the file or use another model "
            "folder"
        ) from None


def meta_model(config: PretrainedConfig) -> PreTrainedModel:
    """The causal LM `config` describes, on the meta device: modules and shapes, no weights."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def resolve_tokenizer_dir(ref: str, log: Log = log_to_stderr) -> Path:
    """A local folder holding `ref`'s tokenizer: a model reference (a built-in model's weights
    are not converted for it) or a folder of tokenizer files alone."""
    if ref.startswith(BUILTIN_PREFIX):
        return ensure_builtin_tokenizer(ref[len(BUILTIN_PREFIX) :], log)
    path = Path(ref).expanduser()
    if path.is_dir() and (path / TOKENIZER_CONFIG).is_file():
        return path.resolve()
    return resolve_model_dir(ref, log)


def load_tokenizer(ref: str, padding_side: str = "left") -> PreTrainedTokenizerBase:
    """The tokenizer of `ref` with a pad token set (left padding for generation)."""
    from transformers import AutoTokenizer

    folder = resolve_tokenizer_dir(ref)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, padding_side=padding_side)
    except (OSError, ValueError, KeyError) as error:
        raise StudioError(
            f"{folder} holds no tokenizer transformers can load ({error}); copy the "
            "model's tokenizer files next to its config.json"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def model_info(ref: str, log: Log = log_to_stderr) -> dict[str, Any]:
    """Architecture, parameter count, dtype, chat template and location, read from files only."""
    folder = resolve_model_dir(ref, log)
    config = json.loads((folder / "config.json").read_text())
    params, dtypes = _count_parameters(folder)
    info: dict[str, Any] = {
        "ref": ref,
        "path": str(folder),
        "architecture": (config.get("architectures") or ["?"])[0],
        "model_type": config.get("model_type"),
        "parameters": params,
        "dtype": "/".join(sorted(dtypes)),
        "layers": config.get("num_hidden_layers"),
        "hidden_size": config.get("hidden_size"),
        "vocab_size": config.get("vocab_size"),
        "chat_template": _has_chat_template(folder),
    }
    experts = config.get("num_local_experts") or config.get("num_experts")
    if experts:
        info["experts"] = experts
        info["experts_per_token"] = config.get("num_experts_per_tok")
    if folder.is_relative_to(cache_root()):
        info["cached_at"] = str(folder)
    return info


def _count_parameters(folder: Path) -> tuple[int, set[str]]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise StudioError(
            f"{folder} has no .safetensors weights; convert the model to safetensors first"
        )
    total, dtypes = 0, set()
    for path in files:
        for name, tensor in safetensors_header(path).items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in tensor["shape"]:
                count *= dim
            total += count
            dtypes.add(tensor["dtype"])
    return total, dtypes


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config_path = folder / TOKENIZER_CONFIG
    return config_path.is_file() and bool(json.loads(config_path.read_text()).get("chat_template"))
