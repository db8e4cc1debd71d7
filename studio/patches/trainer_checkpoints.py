"""Checkpoints appear whole or not at all: saved into a staging folder, then renamed into place.

transformers' `Trainer._save_checkpoint` writes `checkpoint-N` straight into the output
folder (adapter, optimizer, scheduler, every rank's RNG state, trainer_state.json last), so
a kill during a save leaves a partial `checkpoint-N` that a resume would pick.
`save_checkpoints_atomically(trainer)` wraps the trainer's `_save_checkpoint`: during a save
`_get_output_dir` names `<run>/.checkpoint-staging/`, so every rank writes
`.checkpoint-staging/checkpoint-N`; after a barrier the saving process runs the `prepare`
steps on that folder, writes checkpoint_complete.json, fsyncs every file and renames the
folder to `<run>/checkpoint-N` (one rename; a stale folder of that name is moved aside
first) and removes the then empty staging folder; a last barrier holds every rank until the
checkpoint is in place. `on_save`
callbacks then see the published folder.

This is the only place the studio overrides trainer internals (studio.patches.registry lists
them). They are checked against transformers 5.17, on the trainer class itself
(`check_trainer_internals`); an error names what changed when they are gone.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.fsutil import fsync_dir, fsync_tree

COMPLETE_MARKER = "checkpoint_complete.json"  # written last into a whole checkpoint
STAGING_DIR = ".checkpoint-staging"  # where a checkpoint is written before its rename
# the Trainer methods wrapped or redirected, with the parameters the wrapper relies on
WRAPPED = {"_save_checkpoint": ("self", "model", "trial"), "_get_output_dir": ("self", "trial")}
# rotation and best-checkpoint tracking would look for checkpoints in the staging folder
FolderStep = Callable[[Path], None]
UNSUPPORTED_ARGS = ("save_total_limit", "metric_for_best_model", "load_best_model_at_end")


class TrainerInternalsChanged(StudioError):
    """The transformers internals atomic checkpoints rely on are not what they were written for."""


def check_trainer_internals(trainer_class: type) -> None:
    """Raise TrainerInternalsChanged naming the internal that is missing or changed."""
    import transformers
    from transformers import trainer as trainer_module

    where = f"transformers {transformers.__version__}"
    if getattr(trainer_module, "PREFIX_CHECKPOINT_DIR", None) != "checkpoint":
        raise TrainerInternalsChanged(
            f"{where}: transformers.trainer.PREFIX_CHECKPOINT_DIR is no longer 'checkpoint'; "
            "studio/patches/trainer_checkpoints.py and studio/train/resume.py must follow the new "
            "folder name"
        )
    for name, parameters in WRAPPED.items():
        method = getattr(trainer_class, name, None)
        found = tuple(inspect.signature(method).parameters) if callable(method) else None
        if found != parameters:
            shown = f"takes {found}" if found is not None else "is gone"
            raise TrainerInternalsChanged(
                f"{where}: {trainer_class.__name__}.{name} {shown}, where "
                f"studio/patches/trainer_checkpoints.py expects {parameters}; adapt it to the new "
                "trainer before training"
            )


def save_checkpoints_atomically(trainer: Any, prepare: Sequence[FolderStep] = ()) -> None:
    """Make `trainer` publish every checkpoint whole (see the module docstring).

    `prepare` runs on the staged folder, in the saving process, before it is marked complete.
    """
    check_trainer_internals(type(trainer))
    unsupported = [name for name in UNSUPPORTED_ARGS if getattr(trainer.args, name, None)]
    if unsupported:
        raise StudioError(
            f"atomic checkpoints do not support the training arguments "
            f"{', '.join(unsupported)} (they delete or pick checkpoints by folder); "
            "leave them unset"
        )
    save = trainer._save_checkpoint

    def save_atomically(model: Any, trial: Any) -> None:
        run_dir = Path(trainer._get_output_dir(trial=trial))
        name = f"checkpoint-{trainer.state.global_step}"
        staging = run_dir / STAGING_DIR
        publisher = trainer.args.should_save
        if publisher:
            shutil.rmtree(staging / name, ignore_errors=True)  # an interrupted save of this step
            staging.mkdir(exist_ok=True)
        trainer.accelerator.wait_for_everyone()
        trainer._get_output_dir = lambda trial=None: str(staging)
        try:
            save(model, trial)
        finally:
            del trainer._get_output_dir
        trainer.accelerator.wait_for_everyone()
        if publisher:
            publish(staging / name, run_dir / name, trainer.state.global_step, prepare)
        trainer.accelerator.wait_for_everyone()

    trainer._save_checkpoint = save_atomically


def publish(staged: Path, final: Path, step: int, prepare: Sequence[FolderStep]) -> None:
    """Complete `staged` (prepare steps, marker, fsync) and rename it to `final` in one step."""
    if not staged.is_dir():
        raise TrainerInternalsChanged(
            f"the trainer saved step {step} without writing {staged}: Trainer._save_checkpoint no "
            "longer builds its folder from Trainer._get_output_dir(); adapt "
            "studio/patches/trainer_checkpoints.py to it"
        )
    for step_fn in prepare:
        step_fn(staged)
    marker = json.dumps({"global_step": step}) + "\n"
    (staged / COMPLETE_MARKER).write_text(marker, encoding="utf-8")
    fsync_tree(staged)
    stale = None
    if final.exists():  # an incomplete folder of this step from before; resume skipped it
        stale = staged.parent / f"replaced-{final.name}-{secrets.token_hex(3)}"
        os.rename(final, stale)
    os.rename(staged, final)
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)
    with contextlib.suppress(OSError):
        staged.parent.rmdir()  # left in place only while it holds something
    fsync_dir(final.parent)
