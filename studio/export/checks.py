"""Checks an export passes before it is published.

`check_merged_logits`: the merged folder, loaded back from disk, gives the unmerged stack's
logits on a few chat prompts within the tolerance of its dtype. `check_gguf`: the GGUF file,
read back with gguf's GGUFReader, holds every planned tensor with its shape and type, the first
and last tensors bit for bit, and the metadata it was written with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.models.cache import Log, log_to_stderr

# largest |merged - unmerged| logit difference, relative to the largest |logit|, per dtype
LOGIT_TOLERANCE = {"f32": 1e-4, "f16": 2e-2, "bf16": 6e-2}
CHECK_QUESTIONS = (
    "How many singers are there?",
    "List the names of all stadiums with a capacity above 5000, ordered by name.",
    "SELECT count(*) FROM",
)
GGUF_VALUE_CHECKS = 4


@dataclass(frozen=True)
class LogitCheck:
    """The largest logit difference found, relative to the largest logit, and the limit."""

    prompts: int
    max_abs_diff: float
    relative_diff: float
    tolerance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_prompts(tokenizer: Any) -> list[str]:
    """Chat-rendered prompts (the studio's system prompt, a question) to compare logits on."""
    from studio.data.prompts import build_messages, render_chat

    return [render_chat(tokenizer, build_messages({"instruction": q})) for q in CHECK_QUESTIONS]


def prompt_logits(model: Any, tokenizer: Any, prompts: Sequence[str]) -> list[Any]:
    """Float32 logits of every position of each prompt, one prompt at a time."""
    import torch

    logits = []
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
            logits.append(model(ids.to(model.device)).logits[0].float().cpu())
    return logits


def compare_logits(expected: Sequence[Any], found: Sequence[Any], tolerance: float) -> LogitCheck:
    """How far `found` is from `expected` (lists of logit tensors of the same prompts)."""
    worst = max(float((a - b).abs().max()) for a, b in zip(expected, found, strict=True))
    scale = max(float(a.abs().max()) for a in expected)
    return LogitCheck(len(expected), worst, worst / max(scale, 1e-12), tolerance)


def check_merged_logits(
    merged_dir: Path,
    ref: str,
    adapters: Sequence[str | Path],
    dtype: str,
    log: Log = log_to_stderr,
) -> LogitCheck:
    """A StudioError unless `merged_dir`'s logits equal the unmerged stack's within the dtype's
    tolerance; both run in float32 on the CPU."""
    from studio.models.loading import load_model

    log("checking the merged model's logits against the unmerged adapter stack")
    stack = load_model(ref, adapters=list(adapters), dtype="float32", device="cpu", log=log)
    prompts = check_prompts(stack.tokenizer)
    expected = prompt_logits(stack.model, stack.tokenizer, prompts)
    del stack
    merged = load_model(str(merged_dir), dtype="float32", device="cpu", log=log)
    found = prompt_logits(merged.model, merged.tokenizer, prompts)
    result = compare_logits(expected, found, LOGIT_TOLERANCE[dtype])
    if result.relative_diff > result.tolerance:
        raise StudioError(
            f"the merged model's logits differ from the unmerged adapter stack's by "
            f"{result.relative_diff:.2e} of their scale (limit {result.tolerance:.0e} in "
            f"{dtype}), so the merge did not reproduce the model; nothing was written. Export in "
            f"f32 (--dtype f32), or check that the adapters fit {ref}"
        )
    log(f"logits match: largest difference {result.relative_diff:.1e} of their scale")
    return result


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The scalar and string metadata of a GGUF file (arrays as their length)."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(path)
    values: dict[str, Any] = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        if field.types and field.types[0] == GGUFValueType.ARRAY:
            values[name] = len(field.data)
        else:
            values[name] = field.contents()
    return values


def check_gguf(path: Path, plan: Sequence[Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """Read `path` back and compare it with what was written: `plan` (the written tensors: name,
    shape, type and a `load()` giving the data written) and `metadata` (key -> value). Returns
    a summary; a StudioError names the first difference."""
    import numpy as np
    from gguf import GGUFReader

    reader = GGUFReader(path)
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    problem = None
    if len(tensors) != len(plan):
        problem = f"it holds {len(tensors)} tensors, {len(plan)} were written"
    for planned in plan:
        if problem:
            break
        tensor = tensors.get(planned.name)
        if tensor is None:
            problem = f"tensor {planned.name} is missing"
        elif [int(n) for n in reversed(tensor.shape)] != list(planned.shape):
            problem = f"tensor {planned.name} has shape {list(reversed(tensor.shape))}"
        elif tensor.tensor_type != planned.qtype:
            problem = f"tensor {planned.name} is {tensor.tensor_type.name}"
    for planned in [*plan[: GGUF_VALUE_CHECKS // 2], *plan[-GGUF_VALUE_CHECKS // 2 :]]:
        if problem:
            break
        if not np.array_equal(
            np.asarray(tensors[planned.name].data).ravel().view(np.uint8),
            planned.load().ravel().view(np.uint8),
        ):
            problem = f"tensor {planned.name} holds other values than were written"
    found = gguf_metadata(path)
    for key, value in metadata.items():
        if problem:
            break
        if found.get(key) != value:
            problem = f"metadata {key} is {found.get(key)!r}, {value!r} was written"
    if problem:
        raise StudioError(
            f"the GGUF file {path} does not read back as written: {problem}; the disk may be "
            "full or failing; free space and export again"
        )
    return {
        "tensors": len(tensors),
        "values_compared": min(GGUF_VALUE_CHECKS, len(plan)),
        "metadata_compared": len(metadata),
    }
