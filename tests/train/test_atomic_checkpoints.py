"""Checkpoints are published whole: a worker killed halfway through a save, a run folder in the
state an interrupted save of an older studio leaves, several ranks saving, `on_save` callbacks
seeing the published folder, and the check that the trainer internals the atomic save relies
on are still there."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from transformers import Trainer, TrainerCallback
from trl import DPOTrainer, SFTTrainer

from studio.cli import main
from studio.data.importers.demo import open_workspace
from studio.jobs import ensure_background_supervisor, get_job, submit, wait
from studio.patches.trainer_checkpoints import (
    COMPLETE_MARKER,
    STAGING_DIR,
    TrainerInternalsChanged,
    check_trainer_internals,
)
from studio.train.config import TrainConfig
from studio.train.resume import find_resume_point, incomplete_reason
from studio.train.worker import train
from studio.workspace import Workspace

from .conftest import REPO_ROOT, new_run, read_metrics, read_summary, train_on_two_ranks
from .paused_save_worker import PAUSED_FILE

PAUSED_WORKER = Path(__file__).with_name("paused_save_worker.py")
JOB_TIMEOUT_S = 300
INTERRUPTED = "a save that was interrupted before it completed"


def write_config(tmp_path: Path, cfg: TrainConfig) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    return path


def resume_cli(ws: Workspace, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`python -m studio train --resume RUN`, followed to the end; what it printed."""
    assert main(["train", "--resume", run_dir.name, "--workspace", str(ws.root)]) == 0
    return capsys.readouterr().out


def complete_checkpoints(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.glob("checkpoint-*") if incomplete_reason(p) is None)


def test_a_worker_killed_halfway_through_a_save_resumes_from_the_checkpoint_before(
    toy_workspace: Workspace,
    tiny_config: Callable[..., TrainConfig],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = toy_workspace
    run_dir = new_run(ws, tiny_config(max_steps=3, save_steps=1))
    argv = [sys.executable, str(PAUSED_WORKER), "--pause-at", "2", str(run_dir)]
    job = submit(ws, "train", argv, run_dir, cwd=REPO_ROOT, title="SFT paused in its second save")
    ensure_background_supervisor(ws)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while not (run_dir / PAUSED_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (run_dir / PAUSED_FILE).exists(), f"no save of step 2 began: {job.log_path}"
    os.killpg(get_job(ws, job.id).pid, signal.SIGKILL)
    killed = wait(ws, job.id)
    assert killed.state == "failed" and "killed by SIGKILL" in killed.error

    # the half-written save stayed out of sight; checkpoint-1 is whole
    staged = run_dir / STAGING_DIR / "checkpoint-2"
    assert (run_dir / PAUSED_FILE).read_text() == str(staged)
    assert {"adapter_model.safetensors", "optimizer.pt"} <= {p.name for p in staged.iterdir()}
    assert not (staged / "trainer_state.json").exists()
    assert complete_checkpoints(run_dir) == ["checkpoint-1"]
    assert not (run_dir / "checkpoint-2").exists()

    out = resume_cli(ws, run_dir, capsys)
    assert (
        f"discarded {STAGING_DIR}/checkpoint-2: {INTERRUPTED}\nresuming from checkpoint-1\n"
    ) in out
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded"
    assert summary["resumed_from"] == str(run_dir / "checkpoint-1")
    assert [m["step"] for m in read_metrics(run_dir)][-2:] == [2, 3]  # steps 2 and 3 trained again
    assert complete_checkpoints(run_dir) == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    assert not (run_dir / STAGING_DIR).exists()
    assert killed.log_path.read_text().count("resuming from checkpoint-1") == 1  # the job's own log


def test_dpo_resume_skips_an_incomplete_checkpoint_of_an_older_studio(
    sft_run: Path,
    tiny_config: Callable[..., TrainConfig],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = open_workspace(sft_run.parents[1])
    cfg = tiny_config(
        stage="dpo",
        dataset="toy_pairs",
        max_steps=3,
        save_steps=1,
        adapter_name_or_path=str(sft_run / "adapter"),
    )
    assert main(["train", str(write_config(tmp_path, cfg)), "--workspace", str(ws.root)]) == 0
    run_dir = get_job(ws, int(capsys.readouterr().out.split()[1])).run_dir
    for step in (1, 2, 3):
        folder = run_dir / f"checkpoint-{step}"
        assert (folder / COMPLETE_MARKER).is_file() and not (folder / "ref").exists()
        (folder / COMPLETE_MARKER).unlink()  # as a studio before atomic checkpoints left them
    # what a kill during an older studio's save of step 3 left, and an unfinished staged save
    (run_dir / "checkpoint-3" / "trainer_state.json").unlink()
    weights = run_dir / "checkpoint-3" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    (run_dir / STAGING_DIR / "checkpoint-4").mkdir(parents=True)
    # the kill ended the run there: no final adapter or summary, and its job failed
    shutil.rmtree(run_dir / "adapter")
    (run_dir / "summary.json").unlink()
    with contextlib.closing(ws.connect()) as conn, conn:
        conn.execute("UPDATE jobs SET state = 'failed' WHERE run_dir = ?", (str(run_dir),))

    out = resume_cli(ws, run_dir, capsys)
    assert (
        "skipped checkpoint-3: incomplete, no trainer_state.json (its save was interrupted)\n"
        f"discarded {STAGING_DIR}/checkpoint-4: {INTERRUPTED}\n"
        "resuming from checkpoint-2\n"
    ) in out
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded"
    assert summary["resumed_from"] == str(run_dir / "checkpoint-2")
    assert read_metrics(run_dir)[-1]["step"] == 3 and "rewards/margins" in read_metrics(run_dir)[-1]
    marker = run_dir / "checkpoint-3" / COMPLETE_MARKER
    assert json.loads(marker.read_text()) == {"global_step": 3}
    assert incomplete_reason(run_dir / "checkpoint-3") is None
    assert not (run_dir / "checkpoint-3" / "ref").exists() and not (run_dir / STAGING_DIR).exists()


def test_two_ranks_publish_each_checkpoint_with_both_ranks_files(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    run_dir = new_run(toy_workspace, tiny_config(max_steps=2, save_steps=1))
    done = train_on_two_ranks(run_dir, timeout_s=JOB_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert read_summary(run_dir)["status"] == "succeeded"
    for step in (1, 2):
        files = {p.name for p in (run_dir / f"checkpoint-{step}").iterdir()}
        assert {"rng_state_0.pth", "rng_state_1.pth", "trainer_state.json"} <= files
        assert COMPLETE_MARKER in files
    assert complete_checkpoints(run_dir) == ["checkpoint-1", "checkpoint-2"]
    assert not (run_dir / STAGING_DIR).exists()
    assert find_resume_point(run_dir).checkpoint == run_dir / "checkpoint-2"


class SeesPublishedCheckpoints(TrainerCallback):
    """Records, at each `on_save`, whether checkpoint-N is in place and complete, and adds a
    file."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str | None]] = []

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.seen.append((state.global_step, incomplete_reason(folder)))
        (folder / "note.txt").write_text("written by an on_save callback")


def test_on_save_callbacks_see_the_published_checkpoint(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    run_dir = new_run(toy_workspace, tiny_config(max_steps=2, save_steps=1))
    callback = SeesPublishedCheckpoints()
    train(run_dir, extra_callbacks=[callback])
    assert callback.seen == [(1, None), (2, None)]
    assert (run_dir / "checkpoint-2" / "note.txt").is_file()
    assert find_resume_point(run_dir).checkpoint == run_dir / "checkpoint-2"


class RenamedSave(Trainer):
    def _save_checkpoint(self, model: Any, trial: Any, extra: Any = None) -> None:
        super()._save_checkpoint(model, trial)


def test_the_internals_check_names_what_changed() -> None:
    check_trainer_internals(SFTTrainer)
    check_trainer_internals(DPOTrainer)
    changed = (
        r"RenamedSave._save_checkpoint takes \('self', 'model', 'trial', 'extra'\), "
        r"where studio/patches/trainer_checkpoints.py expects"
    )
    with pytest.raises(TrainerInternalsChanged, match=changed):
        check_trainer_internals(RenamedSave)
