"""The run monitor: progress.jsonl written by a worker and read back, a job's snapshot through
its states and phases (queued, loading, generating n/N, cancelling, cancelled), a dead worker
settled without a supervisor, and deleting a finished run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.jobs import cancel, get_job, list_jobs, resubmit
from studio.jobs.monitor import CANCELLING, WAITING, latest_job, snapshot
from studio.jobs.rundir import RunDir
from studio.jobs.runs import delete_run
from studio.jobs.runtime import (
    GENERATING,
    LOADING,
    TRAINING,
    ProgressWriter,
    last_jsonl_record,
    read_jsonl_from,
)


def test_progress_writer_counts_rate_and_eta_and_a_partial_line_waits(tmp_path: Path) -> None:
    writer = ProgressWriter(tmp_path, interval_s=0.0)
    writer.phase(LOADING)
    writer.phase(TRAINING, total=8, unit="steps", done=2)
    writer.advance(5)
    path = RunDir(tmp_path).progress
    records, offset = read_jsonl_from(path)
    assert [(r["phase"], r["done"], r["total"]) for r in records] == [
        (LOADING, None, None),
        (TRAINING, 2, 8),
        (TRAINING, 5, 8),
    ]
    last = records[-1]
    assert last["rate"] > 0 and last["eta_s"] == pytest.approx(3 / last["rate"], abs=0.051)
    assert records[1]["rate"] is None and records[1]["eta_s"] is None  # nothing done yet

    line = json.dumps({"phase": TRAINING, "done": 6, "total": 8, "time": 1.0}) + "\n"
    with open(path, "a") as handle:
        handle.write(line[:20])  # a writer caught mid-line
    assert last_jsonl_record(path) == last
    assert read_jsonl_from(path, offset) == ([], offset)
    with open(path, "a") as handle:
        handle.write(line[20:])
    new, end = read_jsonl_from(path, offset)
    assert [r["done"] for r in new] == [6] and end == path.stat().st_size


def test_writer_throttles_counts_but_not_phase_changes_or_the_last_count(tmp_path: Path) -> None:
    writer = ProgressWriter(tmp_path, interval_s=3600.0)
    writer.phase(GENERATING, total=3, unit="questions")
    writer.advance(1)
    writer.advance(2)
    writer.advance(3)
    done = [r["done"] for r in read_jsonl_from(RunDir(tmp_path).progress)[0]]
    assert done == [0, 3]


def test_snapshot_follows_a_job_from_queued_through_cancelling_to_cancelled(
    workspace, submit_sample, supervisors, eventually, wait_state
) -> None:
    job = submit_sample("progress", kind="eval")
    queued = snapshot(workspace, job.id)
    assert (queued.state, queued.phase, queued.eta_s) == ("queued", WAITING, None)
    assert queued.can_cancel and not queued.can_delete
    assert latest_job(workspace, "eval").id == job.id

    supervisors()
    eventually(lambda: snapshot(workspace, job.id).phase == LOADING, what="loading phase")
    loading = snapshot(workspace, job.id)
    assert loading.state == "running" and loading.done is None and loading.progress == LOADING

    (job.run_dir / "go").touch()
    eventually(lambda: (job.run_dir / "halfway").exists(), what="halfway")
    running = snapshot(workspace, job.id)
    assert running.progress == "generating 2/4" and running.fraction == 0.5
    assert running.rate > 0 and running.eta_s is not None and running.unit == "questions"
    assert "[studio] generating" in running.log

    cancel(workspace, job.id)
    cancelling = eventually(
        lambda: (snap := snapshot(workspace, job.id)).state == CANCELLING and snap,
        what="cancelling",
    )
    assert cancelling.eta_s is None and cancelling.can_cancel is False
    assert "cancelling" in cancelling.line()
    (job.run_dir / "stop").touch()
    wait_state(job.id, "cancelled")
    done = snapshot(workspace, job.id)
    assert (done.state, done.phase, done.eta_s) == ("cancelled", "", None)
    assert done.can_delete and not done.can_cancel


def test_a_resumed_run_does_not_show_its_predecessors_progress(
    workspace, submit_sample, supervisors, eventually, wait_state
) -> None:
    first = submit_sample("progress")
    supervisors()
    (first.run_dir / "go").touch()
    (first.run_dir / "release").touch()
    wait_state(first.id, "succeeded")
    for name in ("go", "release"):
        (first.run_dir / name).unlink()
    second = resubmit(workspace, first.id)
    eventually(lambda: snapshot(workspace, second.id).phase == LOADING, what="loading")
    assert snapshot(workspace, second.id).done is None  # not the first job's 4/4
    cancel(workspace, second.id)
    wait_state(second.id, "cancelled")


def test_snapshot_settles_a_dead_worker_when_no_supervisor_watches(
    workspace, submit_sample, supervisors, eventually
) -> None:
    job = submit_sample("stubborn")
    supervisor = supervisors()
    eventually(lambda: (job.run_dir / "started").exists(), what="worker start")
    supervisor.stop()
    os.killpg(get_job(workspace, job.id).pid, signal.SIGKILL)
    eventually(lambda: snapshot(workspace, job.id).state == "failed", what="settled state")
    assert "without reporting" in snapshot(workspace, job.id).error


def test_delete_run_refuses_a_running_job_then_removes_folder_and_jobs(
    workspace, submit_sample, supervisors, eventually, wait_state
) -> None:
    job = submit_sample("loop")
    supervisors()
    eventually(lambda: (job.run_dir / "started").exists(), what="worker start")
    with pytest.raises(StudioError, match="cancel it"):
        delete_run(workspace, job.run_dir.name)
    cancel(workspace, job.id)
    wait_state(job.id, "cancelled")
    again = resubmit(workspace, job.id, ["--resume"])
    wait_state(again.id, "succeeded")
    other = submit_sample("succeed")
    wait_state(other.id, "succeeded")

    assert delete_run(workspace, job.run_dir.name) == job.run_dir
    assert not job.run_dir.exists()
    assert [j.id for j in list_jobs(workspace)] == [other.id]
    with pytest.raises(StudioError, match="not found"):
        delete_run(workspace, job.run_dir.name)


def test_delete_run_refuses_a_folder_outside_the_runs(workspace, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(StudioError, match="not a run folder under"):
        delete_run(workspace, str(outside))
    assert outside.is_dir()
