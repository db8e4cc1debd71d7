"""The model cache: GGUF files converted once into safetensors folders, with a manifest.

A GGUF's tokenizer alone can also be written into a folder of its own (no weights), for
work that only counts or renders tokens.

A converted folder is written under a temporary name and renamed into place, and its
`studio-manifest.json` (written last) records every file's size and sha256. A cheap
check (manifest, sizes, safetensors headers) runs on every use; a failed check means
the folder is rebuilt. `verify_folder(full=True)` also re-hashes every file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from studio.fsutil import atomic_write_json, file_lock

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedTokenizerBase

CACHE_ENV = "STUDIO_CACHE"
MANIFEST_NAME = "studio-manifest.json"
Log = Callable[[str], None]
# By model_type: GGUF keys (after "<architecture>.") that transformers' GGUF reader does not put
# into the config -> the config attribute they set
GGUF_CONFIG_GAPS = {
    "qwen3": {"attention.key_length": "head_dim"},
    "qwen3_moe": {"expert_feed_forward_length": "moe_intermediate_size"},
}


def log_to_stderr(message: str) -> None:
    """Default progress sink for long model work."""
    print(message, file=sys.stderr, flush=True)


class NumberedLog:
    """A Log that numbers a known count of steps and adds the time since the first:
    `[2/4 · 0:41] dequantizing weights`; messages past the last step read `[done · 2:17] ...`."""

    def __init__(self, log: Log, steps: int) -> None:
        self.log, self.steps, self.count = log, steps, 0
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        self.count += 1
        elapsed = int(time.monotonic() - self.started)
        clock = f"{elapsed // 60}:{elapsed % 60:02d}"
        where = f"{self.count}/{self.steps}" if self.count <= self.steps else "done"
        self.log(f"[{where} · {clock}] {message}")


def cache_root() -> Path:
    """`$STUDIO_CACHE`, else `~/.cache/text2sql-studio`."""
    return Path(
        os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "text2sql-studio"
    ).expanduser()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 16 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(16 << 20):
            digest.update(block)
    return digest.hexdigest()


def safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file; ValueError if the file is truncated or malformed."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: too short to be safetensors")
        (header_len,) = struct.unpack("<Q", raw)
        if header_len > size - 8:
            raise ValueError(f"{path}: header length {header_len} exceeds the file")
        header = json.loads(handle.read(header_len))
    data_end = max(
        (t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0
    )
    if 8 + header_len + data_end != size:
        raise ValueError(
            f"{path}: {size} bytes on disk, header describes {8 + header_len + data_end}"
        )
    return header


def folder_problem(folder: Path, full: bool = False) -> str | None:
    """Why `folder` is not a complete converted model, or None if it is."""
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        return "no manifest (conversion never finished)"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        return f"unreadable manifest: {error}"
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{name} has {path.stat().st_size} bytes, expected {expected['size']}"
        if name.endswith(".safetensors"):
            try:
                safetensors_header(path)
            except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as error:
                return str(error)
        if full and sha256_file(path) != expected["sha256"]:
            return f"{name} does not match its recorded sha256"
    return None


def write_manifest(folder: Path, source: dict) -> None:
    """Record size and sha256 of every file in `folder`, plus where it came from."""
    files = {
        path.name: {"size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != MANIFEST_NAME
    }
    atomic_write_json(folder / MANIFEST_NAME, {"source": source, "files": files})


def gguf_config(gguf_path: Path) -> PretrainedConfig:
    """The transformers config of a GGUF file, with the sizes transformers' GGUF reader leaves
    at their defaults (GGUF_CONFIG_GAPS) read from the file; the file's metadata is read a
    second time only for a model type that has such gaps."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    gaps = GGUF_CONFIG_GAPS.get(config.model_type)
    if gaps:
        from gguf import GGUFReader

        fields = GGUFReader(gguf_path).fields
        arch = fields["general.architecture"].contents()
        for key, attribute in gaps.items():
            if (field := fields.get(f"{arch}.{key}")) is not None:
                setattr(config, attribute, int(field.contents()))
    return config


def gguf_tokenizer(gguf_path: Path, model_type: str | None) -> PreTrainedTokenizerBase:
    """The tokenizer held in a GGUF file's metadata. Given the model type (`config.model_type`),
    transformers reads the metadata once instead of twice (once to find the type)."""
    from transformers import AutoTokenizer
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    typed = {"tokenizer_type": model_type} if model_type in TOKENIZER_MAPPING_NAMES else {}
    return AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, **typed)


CONVERT_STEPS = 3  # the messages convert_gguf logs before "model ready": tokenizer, weights, write


def convert_gguf(gguf_path: Path, target: Path, source: dict, log: Log = log_to_stderr) -> Path:
    """Dequantize `gguf_path` into a safetensors model + tokenizer folder at `target`.

    Safe against concurrent callers (a lock per target) and crashes (temporary folder,
    manifest last). Returns `target`.
    """
    from transformers import AutoModelForCausalLM

    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_name(target.name + ".lock")):
        if folder_problem(target) is None:
            return target
        staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        log(f"converting {gguf_path.name}: config and tokenizer")
        config = gguf_config(gguf_path)
        tokenizer = gguf_tokenizer(gguf_path, config.model_type)
        log(f"converting {gguf_path.name}: dequantizing weights")
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, config=config
        )
        # The weights are plain float tensors once dequantized; drop the GGUF marker so
        # transformers agrees to save them.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        log(f"writing safetensors to {target}")
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_manifest(staging, source)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    log(f"model ready at {target}")
    return target


def write_gguf_tokenizer(
    gguf_path: Path,
    target: Path,
    source: dict,
    log: Log = log_to_stderr,
    model_type: str | None = None,
) -> Path:
    """Write the tokenizer files held in `gguf_path`'s metadata to `target`, weights untouched
    (`model_type`, when known, spares transformers a second read of the metadata).

    The folder is written under a temporary name, with its manifest last, then renamed into
    place; callers that may race hold a lock. Returns `target`.
    """
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    log(f"reading the tokenizer of {gguf_path.name} (no weights)")
    tokenizer = gguf_tokenizer(gguf_path, model_type)
    tokenizer.save_pretrained(staging)
    write_manifest(staging, source)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    log(f"tokenizer ready at {target}")
    return target
