"""The job-kind table and the one start/resume path (real jobs, real worker processes)."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.jobs import CANCELLED, FAILED, SUCCEEDED, Job, Supervisor, cancel, submit, wait
from studio.jobs.kinds import (
    EVAL,
    KINDS,
    MINE,
    TRAIN,
    FinishedRunError,
    job_kind,
    resume_run,
    start_run,
)
from studio.jobs.rundir import RunDir
from studio.train.config import config_from_mapping
from studio.train.worker import write_run_config
from studio.workspace import Workspace

from .conftest import SAMPLE_WORKER


def test_the_table_holds_train_mining_and_evaluation() -> None:
    assert KINDS == {"train": TRAIN, "pairs": MINE, "eval": EVAL}
    assert [(kind.config_file, kind.resume_argv) for kind in KINDS.values()] == [
        ("config.yaml", ("--resume",)),
        ("config.json", ()),
        ("config.json", ()),
    ]
    for kind in KINDS.values():
        assert callable(importlib.import_module(kind.worker).main)
    assert job_kind("eval") is EVAL
    with pytest.raises(
        StudioError, match="unknown job kind 'sft'; the kinds are train, pairs, eval"
    ):
        job_kind("sft")


def test_each_kind_runs_its_worker_on_the_run_folder(workspace: Workspace) -> None:
    run_dir = workspace.new_run_dir("eval")
    assert MINE.argv(run_dir) == [sys.executable, "-m", "studio.pairs.worker", str(run_dir)]
    assert EVAL.argv(run_dir) == [sys.executable, "-m", "studio.evaluate.worker", str(run_dir)]


def test_training_over_several_gpus_runs_under_accelerate(workspace: Workspace) -> None:
    from studio.train.launch import launch_argv

    run_dir = workspace.new_run_dir("sft")
    write_run_config(run_dir, config_from_mapping({"dataset": ["demo"]}))
    assert TRAIN.argv(run_dir)[1:] == ["-m", "studio.train.worker", str(run_dir)]
    write_run_config(run_dir, config_from_mapping({"dataset": ["demo"], "num_gpus": 2}))
    argv = launch_argv(TRAIN.worker, run_dir, gpus=2)
    assert argv[1:3] == ["-m", "accelerate.commands.launch"]
    assert argv[argv.index("--num_processes") + 1] == "2"
    assert argv[-3:] == ["-m", "studio.train.worker", str(run_dir)]
    assert Path(argv[argv.index("--config_file") + 1]).name == "fsdp.yaml"
    with pytest.raises(StudioError, match="'num_gpus': 2 asked for but 1 GPU"):
        launch_argv(TRAIN.worker, run_dir, gpus=1)


def test_a_started_run_keeps_its_config_in_the_folder_only(workspace: Workspace) -> None:
    run_dir = workspace.new_run_dir("pairs")
    RunDir(run_dir).settings_config.write_text("{}")
    job = start_run(workspace, MINE, run_dir, "pairs from an empty config")
    assert (job.kind, job.argv, job.config) == ("pairs", MINE.argv(run_dir), None)
    done = wait(workspace, job.id)
    assert done.state == FAILED and "missing field(s) model, dataset" in done.error


def sample_job(ws: Workspace, kind: str, mode: str = "succeed") -> Job:
    """A finished job of `kind`: the sample worker in a fresh run folder holding its config."""
    run_dir = ws.new_run_dir(kind)
    (run_dir / KINDS[kind].config_file).write_text("{}")
    argv = [sys.executable, str(SAMPLE_WORKER), mode, str(run_dir)]
    return wait(ws, submit(ws, kind, argv, run_dir, title=f"sample {kind}").id)


def complete_checkpoint(run_dir: Path, step: int) -> None:
    """A checkpoint-N the studio vouches for (trainer state and completion marker)."""
    folder = RunDir(run_dir).checkpoint(step)
    folder.mkdir()
    for name in ("trainer_state.json", "checkpoint_complete.json"):
        (folder / name).write_text(json.dumps({"global_step": step}))


def test_training_resumes_from_its_newest_complete_checkpoint(
    workspace: Workspace,
    submit_sample: Callable[..., Job],
    wait_state: Callable[..., Job],
    supervisors: Callable[..., Supervisor],
    eventually: Callable[..., object],
) -> None:
    supervisors()
    looping = submit_sample("loop", kind="train")
    (looping.run_dir / TRAIN.config_file).write_text("{}")
    wait_state(looping.id, "running")
    eventually(lambda: (looping.run_dir / "started").exists(), what="the worker to start")
    cancel(workspace, looping.id)
    first = wait(workspace, looping.id)
    assert first.state == CANCELLED
    complete_checkpoint(first.run_dir, 2)
    complete_checkpoint(first.run_dir, 4)
    (RunDir(first.run_dir).checkpoint(6)).mkdir()  # a save that never completed
    job, point = resume_run(workspace, first.run_dir.name, TRAIN)
    assert point is not None and point.checkpoint.name == "checkpoint-4"
    assert [folder.name for folder, _ in point.skipped] == ["checkpoint-6"]
    assert (job.resumed_from, job.run_dir, job.argv) == (
        first.id,
        first.run_dir,
        [*first.argv, "--resume"],
    )
    done = wait(workspace, job.id)
    assert done.state == SUCCEEDED, done.error
    with pytest.raises(FinishedRunError):  # now finished: never trained further in place
        resume_run(workspace, first.run_dir.name, TRAIN)


def test_mining_and_evaluation_resume_as_they_are(workspace: Workspace) -> None:
    for kind in (MINE, EVAL):
        first = sample_job(workspace, kind.name)
        job, point = resume_run(workspace, str(first.run_dir), kind)
        assert point is None and job.argv == first.argv and job.resumed_from == first.id
        assert wait(workspace, job.id).state == SUCCEEDED
    job, point = resume_run(workspace, first.run_dir.name)  # the kind of the job that ran there
    assert job.kind == "eval" and point is None
    assert wait(workspace, job.id).state == SUCCEEDED


def test_a_mining_folder_no_job_ran_in_is_started_from_its_config(workspace: Workspace) -> None:
    run_dir = workspace.new_run_dir("pairs")
    RunDir(run_dir).settings_config.write_text(json.dumps({"model": "builtin:x"}))
    with pytest.raises(StudioError, match="no job ran in .*`pairs generate --resume RUN`"):
        resume_run(workspace, run_dir.name)
    job, _ = resume_run(workspace, run_dir.name, MINE)
    assert (job.kind, job.argv, job.resumed_from) == ("pairs", MINE.argv(run_dir), None)
    assert "missing field(s) dataset" in wait(workspace, job.id).error


def test_resuming_refuses_what_cannot_continue(
    workspace: Workspace, submit_sample: Callable[..., Job]
) -> None:
    evaluation = sample_job(workspace, "eval")
    with pytest.raises(
        StudioError, match=f"{evaluation.run_dir.name} holds evaluation jobs, not training"
    ):
        resume_run(workspace, evaluation.run_dir.name, TRAIN)

    finished = sample_job(workspace, "train")
    complete_checkpoint(finished.run_dir, 2)
    with pytest.raises(FinishedRunError, match=r"finished \(succeeded\).*train --continue"):
        resume_run(workspace, finished.run_dir.name, TRAIN)
    with pytest.raises(FinishedRunError):
        resume_run(workspace, finished.run_dir.name)

    training = sample_job(workspace, "train", "crash")
    with pytest.raises(StudioError, match="has no complete checkpoint to resume from"):
        resume_run(workspace, training.run_dir.name, TRAIN)
    RunDir(training.run_dir).train_config.unlink()
    with pytest.raises(StudioError, match="holds no config.yaml, so there is no training to"):
        resume_run(workspace, training.run_dir.name)

    looping = submit_sample("loop", kind="pairs")
    RunDir(looping.run_dir).settings_config.write_text("{}")
    with pytest.raises(StudioError, match=rf"still (queued|running) as job {looping.id}.*cancel"):
        resume_run(workspace, looping.run_dir.name, MINE)
    cancel(workspace, looping.id)
