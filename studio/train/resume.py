"""Which checkpoint a run resumes from: its newest complete `checkpoint-N`.

Every checkpoint needs a trainer_state.json that loads and names its step. One the studio
saved also holds `checkpoint_complete.json`, written last before its folder was renamed
into place (studio.patches.trainer_checkpoints), which vouches for the rest. A folder without
it was saved before checkpoints were atomic: it also needs whole adapter weights and no
frozen reference copy (`ref/`) left in it. Saves a kill interrupted stay under
`.checkpoint-staging/`: never resumed from, and deleted when the run resumes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError
from studio.jobs.rundir import RunDir, checkpoint_step
from studio.models.cache import safetensors_header
from studio.patches.trainer_checkpoints import COMPLETE_MARKER, STAGING_DIR
from studio.train.policy import REF_ADAPTER

TRAINER_STATE = "trainer_state.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
FSDP_MODEL_PREFIX = "pytorch_model_fsdp"  # transformers' sharded FSDP model folders


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a run resumes from, the newer ones skipped and the interrupted saves found."""

    checkpoint: Path
    skipped: tuple[tuple[Path, str], ...]
    interrupted: tuple[Path, ...]

    def report(self) -> list[str]:
        """What resuming does, one line each (for the job log and the CLI)."""
        lines = [f"skipped {folder.name}: incomplete, {reason}" for folder, reason in self.skipped]
        lines += [
            f"discarded {folder.parent.name}/{folder.name}: a save that was interrupted "
            "before it completed"
            for folder in self.interrupted
        ]
        return [*lines, f"resuming from {self.checkpoint.name}"]


def incomplete_reason(folder: Path) -> str | None:
    """Why `checkpoint-N` cannot be resumed from, or None when it is complete."""
    step = checkpoint_step(folder)
    problem = _json_step_problem(folder / TRAINER_STATE, step)
    marker = folder / COMPLETE_MARKER
    if problem is not None or marker.is_file():
        return problem or _json_step_problem(marker, step)
    if (folder / REF_ADAPTER).exists():
        return (
            f"it still holds the reference adapter copy {REF_ADAPTER}/ (its save was interrupted)"
        )
    return _weights_problem(folder)


def _json_step_problem(path: Path, step: int | None) -> str | None:
    """Why `path` (trainer_state.json or the marker) does not record `step`, or None."""
    if not path.is_file():
        return f"no {path.name} (its save was interrupted)"
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("global_step")
    except (ValueError, AttributeError):
        return f"{path.name} does not load (its save was interrupted)"
    return None if recorded == step else f"{path.name} is for step {recorded}"


def _weights_problem(folder: Path) -> str | None:
    if any(path.is_dir() and path.name.startswith(FSDP_MODEL_PREFIX) for path in folder.iterdir()):
        return None
    weights = folder / ADAPTER_WEIGHTS
    if not weights.is_file():
        return f"no {ADAPTER_WEIGHTS} (its save was interrupted)"
    try:
        safetensors_header(weights)
    except (ValueError, KeyError, TypeError):
        return f"{ADAPTER_WEIGHTS} is truncated (its save was interrupted)"
    return None


def interrupted_saves(run_dir: Path) -> list[Path]:
    """Folders a save left under `.checkpoint-staging/` when it was killed before completing
    (none once rank 0 has deleted them, which other ranks may see half done)."""
    try:
        return sorted((run_dir / STAGING_DIR).iterdir())
    except FileNotFoundError:
        return []


def find_resume_point(run_dir: Path) -> ResumePoint:
    """The newest complete checkpoint of `run_dir`; when there is none, a StudioError naming
    each incomplete one and its reason."""
    skipped = []
    for folder in RunDir(run_dir).checkpoints():
        reason = incomplete_reason(folder)
        if reason is None:
            return ResumePoint(folder, tuple(skipped), tuple(interrupted_saves(run_dir)))
        skipped.append((folder, reason))
    found = (
        "; ".join(f"{folder.name}: {reason}" for folder, reason in skipped)
        or "no checkpoint-* folder"
    )
    raise StudioError(
        f"{run_dir} has no complete checkpoint to resume from ({found}); "
        "start the run again instead"
    )


def discard_interrupted_saves(run_dir: Path) -> None:
    """Delete what interrupted saves left under `.checkpoint-staging/`."""
    shutil.rmtree(run_dir / STAGING_DIR, ignore_errors=True)
