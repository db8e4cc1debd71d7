"""One export, checked before it is published: merge, logits check, GGUF, read-back, Modelfile.

Everything is written into a staging folder beside the output folder and renamed into place
only when every check passed; the output folder must not exist yet, or be empty. The folder
then holds the merged Hugging Face model, `<name>.<type>.gguf` and `Modelfile` when asked for,
and `studio-export.json` recording what was exported and what the checks found.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.export.checks import check_gguf, check_merged_logits
from studio.export.gguf_file import GGUF_DTYPES, family_of, write_gguf
from studio.export.merge import merged_model, save_merged, torch_dtype
from studio.export.modelfile import MODELFILE_NAME, chatml_of, render_modelfile
from studio.export.system_prompt import trained_system_prompt
from studio.fsutil import atomic_write_json
from studio.models.cache import Log, log_to_stderr

if TYPE_CHECKING:
    from studio.workspace import Workspace

RECORD_NAME = "studio-export.json"


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a model reference, adapter folders in stacking order, where to, the
    merged dtype (bf16, f16, f32), the GGUF type (f16, bf16; None: no GGUF), whether to write a
    Modelfile, and a system prompt that overrides the trained one."""

    ref: str
    adapters: tuple[str, ...]
    out_dir: Path
    dtype: str = "bf16"
    gguf: str | None = None
    modelfile: bool = False
    system: str | None = None


@dataclass
class ExportResult:
    """The published folder, the files in it and what the checks found."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


def resolve_adapter(workspace: Workspace, value: str) -> str:
    """The adapter folder `value` names: a training run of the workspace (by name or folder),
    or an adapter folder."""
    from studio.jobs.runs import adapter_folder

    return adapter_folder(workspace, value)


def check_request(request: ExportRequest) -> None:
    """A StudioError for options that cannot go together or an output folder in use."""
    torch_dtype(request.dtype)
    if request.gguf is not None and request.gguf not in GGUF_DTYPES:
        raise StudioError(
            f"unknown GGUF type {request.gguf!r}; use one of {', '.join(GGUF_DTYPES)}"
        )
    if request.modelfile and request.gguf is None:
        raise StudioError("the Modelfile points Ollama at the GGUF file: add --gguf f16 (or bf16)")
    out = request.out_dir
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StudioError(
            f"{out} already exists and is not an empty folder; exports never replace files: "
            "choose a new output folder or remove that one"
        )


def export_model(request: ExportRequest, log: Log = log_to_stderr) -> ExportResult:
    """Run the export `request` describes (see the module docstring)."""
    from studio.models.references import load_model_config, load_tokenizer, resolve_model_dir

    check_request(request)
    tokenizer = load_tokenizer(request.ref)
    if request.gguf is not None:
        family_of(load_model_config(resolve_model_dir(request.ref, log)))
    system = request.system
    if request.modelfile:
        chatml_of(tokenizer)
        if system is None:
            system = trained_system_prompt(request.adapters)
        if system is None:
            from studio.data.prompts import SYSTEM_PROMPT

            system = SYSTEM_PROMPT
    out = request.out_dir.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        record = _export_into(staging, out.name, request, tokenizer, system, log)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(path for path in out.iterdir() if path.is_file())
    log(f"export ready in {out}")
    return ExportResult(out, files, record)


def _export_into(
    staging: Path, name: str, request: ExportRequest, tokenizer: Any, system: str | None, log: Log
) -> dict[str, Any]:
    model = merged_model(request.ref, request.adapters, request.dtype, log)
    save_merged(model, tokenizer, staging, log)
    del model
    logits = check_merged_logits(staging, request.ref, request.adapters, request.dtype, log)
    record: dict[str, Any] = {
        "base_model": request.ref,
        "adapters": list(request.adapters),
        "dtype": request.dtype,
        "logit_check": logits.to_dict(),
    }
    if request.gguf is not None:
        gguf_name = f"{name}.{request.gguf}.gguf"
        plan, metadata = write_gguf(staging, staging / gguf_name, request.gguf, name, log)
        log("reading the GGUF file back to check it")
        record["gguf"] = {
            "file": gguf_name,
            "type": request.gguf,
            "check": check_gguf(staging / gguf_name, plan, metadata),
        }
        if request.modelfile:
            text = render_modelfile(gguf_name, tokenizer, system or "")
            (staging / MODELFILE_NAME).write_text(text, encoding="utf-8")
            record["modelfile"] = {"file": MODELFILE_NAME, "system_prompt": system}
    atomic_write_json(staging / RECORD_NAME, record)
    return record
