"""Judging checkpoints for resume: the studio's own (marked complete), older unmarked ones,
and what an interrupted save leaves; the newest complete one is picked and the rest named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.patches.trainer_checkpoints import COMPLETE_MARKER, STAGING_DIR
from studio.train.resume import discard_interrupted_saves, find_resume_point, incomplete_reason

from .conftest import SFT_RUN_STEPS

INTERRUPTED = "(its save was interrupted)"


def copy_checkpoint(source: Path, run_dir: Path, step: int, marked: bool = True) -> Path:
    """A copy of a real checkpoint as `run_dir/checkpoint-STEP` (its step rewritten to STEP)."""
    folder = shutil.copytree(source, run_dir / f"checkpoint-{step}")
    for name in ("trainer_state.json", COMPLETE_MARKER):
        data = json.loads((folder / name).read_text())
        (folder / name).write_text(json.dumps({**data, "global_step": step}))
    if not marked:
        (folder / COMPLETE_MARKER).unlink()
    return folder


@pytest.fixture
def saved(sft_run: Path) -> Path:
    """The finished tiny SFT run's last checkpoint, as the studio saves it."""
    return sft_run / f"checkpoint-{SFT_RUN_STEPS}"


def test_the_studio_marks_what_it_saves_complete(saved: Path) -> None:
    assert json.loads((saved / COMPLETE_MARKER).read_text()) == {"global_step": SFT_RUN_STEPS}
    assert incomplete_reason(saved) is None
    assert not (saved.parent / STAGING_DIR).exists()


def test_unmarked_checkpoints_are_judged_by_their_files(saved: Path, tmp_path: Path) -> None:
    legacy = copy_checkpoint(saved, tmp_path, 3, marked=False)
    assert incomplete_reason(legacy) is None

    (legacy / "ref").mkdir()
    shutil.copy(legacy / "adapter_model.safetensors", legacy / "ref")
    assert "still holds the reference adapter copy ref/" in incomplete_reason(legacy)
    shutil.rmtree(legacy / "ref")

    weights = legacy / "adapter_model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])
    assert incomplete_reason(legacy) == f"adapter_model.safetensors is truncated {INTERRUPTED}"
    weights.unlink()
    assert incomplete_reason(legacy) == f"no adapter_model.safetensors {INTERRUPTED}"
    (legacy / "pytorch_model_fsdp_0").mkdir()  # a sharded FSDP save keeps its weights there
    assert incomplete_reason(legacy) is None

    state = legacy / "trainer_state.json"
    state.write_text(state.read_text()[:40])
    assert incomplete_reason(legacy) == f"trainer_state.json does not load {INTERRUPTED}"
    state.write_text(json.dumps({"global_step": 2}))
    assert incomplete_reason(legacy) == "trainer_state.json is for step 2"
    state.unlink()
    assert incomplete_reason(legacy) == f"no trainer_state.json {INTERRUPTED}"


def test_a_marked_checkpoint_still_needs_its_trainer_state(saved: Path, tmp_path: Path) -> None:
    folder = copy_checkpoint(saved, tmp_path, 3)
    (folder / "adapter_model.safetensors").unlink()  # the marker vouches for the files it covers
    assert incomplete_reason(folder) is None
    (folder / COMPLETE_MARKER).write_text(json.dumps({"global_step": 7}))
    assert incomplete_reason(folder) == f"{COMPLETE_MARKER} is for step 7"
    (folder / "trainer_state.json").unlink()
    assert incomplete_reason(folder) == f"no trainer_state.json {INTERRUPTED}"


def test_resume_picks_the_newest_complete_checkpoint_and_names_the_rest(
    saved: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    copy_checkpoint(saved, run_dir, 2, marked=False)  # saved before checkpoints were atomic
    copy_checkpoint(saved, run_dir, 10)
    partial = copy_checkpoint(saved, run_dir, 30, marked=False)
    (partial / "trainer_state.json").unlink()
    (run_dir / "checkpoint-40").mkdir()
    interrupted = run_dir / STAGING_DIR / "checkpoint-50"
    interrupted.mkdir(parents=True)
    (interrupted / "optimizer.pt").write_bytes(b"half")

    point = find_resume_point(run_dir)
    assert point.checkpoint == run_dir / "checkpoint-10"  # by step, not by name order
    assert [folder.name for folder, _ in point.skipped] == ["checkpoint-40", "checkpoint-30"]
    assert point.interrupted == (interrupted,)
    assert point.report() == [
        f"skipped checkpoint-40: incomplete, no trainer_state.json {INTERRUPTED}",
        f"skipped checkpoint-30: incomplete, no trainer_state.json {INTERRUPTED}",
        f"discarded {STAGING_DIR}/checkpoint-50: a save that was interrupted before it completed",
        "resuming from checkpoint-10",
    ]
    discard_interrupted_saves(run_dir)
    assert not (run_dir / STAGING_DIR).exists()
    assert find_resume_point(run_dir).interrupted == ()


def test_a_run_without_a_complete_checkpoint_names_each_one(tmp_path: Path) -> None:
    (tmp_path / "checkpoint-5").mkdir()
    with pytest.raises(
        StudioError,
        match=r"no complete checkpoint to resume from "
        r"\(checkpoint-5: no trainer_state.json .*\); start",
    ):
        find_resume_point(tmp_path)
    shutil.rmtree(tmp_path / "checkpoint-5")
    with pytest.raises(StudioError, match=r"\(no checkpoint-\* folder\)"):
        find_resume_point(tmp_path)
