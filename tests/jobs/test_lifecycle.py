"""A job's life from submit to its final state, with real worker subprocesses."""

from __future__ import annotations

import json
import os
import signal
import sys

from studio.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, get_job, list_jobs, submit, wait
from studio.jobs.runtime import read_jsonl


def test_succeeding_job_streams_its_log_and_reports(workspace, submit_sample) -> None:
    job = submit_sample("succeed")
    assert job.state == QUEUED and job.pid is None and job.config == {"mode": "succeed"}
    lines: list[str] = []
    done = wait(
        workspace, job.id, on_log=lines.append, poll_s=0.05
    )  # no supervisor alive: wait runs one
    assert done.state == SUCCEEDED and done.exit_code == 0 and done.error is None
    assert done.started_at >= done.created_at and done.finished_at >= done.started_at
    assert lines[0].startswith(f"[studio] job {job.id} (test) started")
    assert lines[1:] == ["hello from the worker", "done"]
    status = json.loads((job.run_dir / "status.json").read_text())
    assert (status["status"], status["error"], status["job_id"], status["exit_code"]) == (
        "succeeded",
        None,
        job.id,
        0,
    )
    assert [record["step"] for record in read_jsonl(job.metrics_path)] == [0, 1, 2]
    assert [listed.id for listed in list_jobs(workspace, kind="test")] == [job.id]
    assert list_jobs(workspace, kind="other") == []


def test_studio_error_is_recorded_as_is(workspace, submit_sample) -> None:
    done = wait(workspace, submit_sample("studio-error").id, poll_s=0.05)
    assert done.state == FAILED and done.exit_code == 1
    assert done.error == "dataset 'demo' has no rows: add rows to datasets/demo.json"


def test_other_exception_is_recorded_with_its_type_and_traceback_in_the_log(
    workspace, submit_sample
) -> None:
    done = wait(workspace, submit_sample("crash").id, poll_s=0.05)
    assert (done.state, done.error, done.exit_code) == (FAILED, "ValueError: boom", 1)
    log = done.log_path.read_text()
    assert "Traceback (most recent call last)" in log and 'raise ValueError("boom")' in log


def test_worker_killed_from_outside_fails_with_an_explanation(
    workspace, submit_sample, supervisors, wait_state, eventually
) -> None:
    supervisors()
    job = submit_sample("loop")
    running = wait_state(job.id, RUNNING)
    eventually(lambda: (job.run_dir / "started").exists(), what="the worker to start")
    os.kill(running.pid, signal.SIGKILL)
    done = wait_state(job.id, FAILED)
    assert done.error == (
        "worker died (killed or crashed) without reporting; "
        f"see {job.run_dir / 'log'} (killed by SIGKILL)"
    )
    assert done.exit_code == -signal.SIGKILL
    assert not (job.run_dir / "status.json").exists()


def test_plain_command_without_status_file_is_judged_by_its_exit_code(
    workspace, supervisors, wait_state
) -> None:
    supervisors()
    run_ok, run_bad = workspace.new_run_dir("plain"), workspace.new_run_dir("plain")
    ok = submit(
        workspace, "plain", [sys.executable, "-c", "print('plain')"], run_ok, uses_gpu=False
    )
    bad = submit(
        workspace, "plain", [sys.executable, "-c", "raise SystemExit(4)"], run_bad, uses_gpu=False
    )
    assert wait_state(ok.id, SUCCEEDED).exit_code == 0
    failed = wait_state(bad.id, FAILED)
    assert failed.error.endswith(f"see {run_bad / 'log'} (exit code 4)")


def test_command_that_cannot_start_fails_with_the_reason(
    workspace, supervisors, wait_state
) -> None:
    supervisors()
    run_dir = workspace.new_run_dir("bad")
    job = submit(workspace, "bad", ["/nonexistent/python", "x.py"], run_dir)
    failed = wait_state(job.id, FAILED)
    assert failed.error.startswith(f"could not start job {job.id}: ")
    assert "/nonexistent/python" in failed.error
    assert get_job(workspace, job.id).pid is None
