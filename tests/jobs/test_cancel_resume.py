"""Cancel (queued, cooperative, stubborn) and resubmit-to-resume."""

from __future__ import annotations

import pytest

from studio.errors import StudioError
from studio.jobs import CANCELLED, RUNNING, SUCCEEDED, cancel, get_job, resubmit, wait


def test_cancel_running_job_lets_it_checkpoint(
    workspace, submit_sample, supervisors, wait_state, eventually
) -> None:
    supervisors()
    job = submit_sample("loop")
    wait_state(job.id, RUNNING)
    eventually(lambda: (job.run_dir / "started").exists(), what="the worker to start")
    marked = cancel(workspace, job.id)
    assert marked.cancel_requested and marked.state == RUNNING
    done = wait_state(job.id, CANCELLED)
    assert done.exit_code == 3 and done.error is None and done.term_sent_at is not None
    assert (job.run_dir / "checkpoint").read_text().isdigit()
    log = done.log_path.read_text()
    assert "cancellation requested (SIGTERM)" in log and "saved checkpoint at step" in log


def test_worker_ignoring_cancel_is_killed_after_the_grace_period(
    workspace, submit_sample, supervisors, wait_state, eventually
) -> None:
    supervisors(cancel_grace_s=0.5)
    job = submit_sample("stubborn")
    wait_state(job.id, RUNNING)
    eventually(lambda: (job.run_dir / "started").exists(), what="the worker to start")
    cancel(workspace, job.id)
    done = wait_state(job.id, CANCELLED)
    assert done.exit_code == -9 and done.finished_at - done.term_sent_at >= 0.5


def test_cancel_queued_job_never_starts_it(workspace, submit_sample, supervisors) -> None:
    job = submit_sample("succeed")
    cancelled = cancel(workspace, job.id)
    assert cancelled.state == CANCELLED and cancelled.finished_at is not None
    supervisors()
    after = submit_sample("succeed")
    assert wait(workspace, after.id, poll_s=0.05).state == SUCCEEDED  # the supervisor ran past it
    later = get_job(workspace, job.id)
    assert later.state == CANCELLED and later.pid is None and not job.log_path.exists()
    assert cancel(workspace, job.id) == later  # cancelling a finished job changes nothing


def test_resubmit_resumes_from_the_checkpoint(
    workspace, submit_sample, supervisors, wait_state, eventually
) -> None:
    supervisors()
    job = submit_sample("loop")
    wait_state(job.id, RUNNING)
    with pytest.raises(
        StudioError, match=f"job {job.id} is running; wait for it to finish or cancel it"
    ):
        resubmit(workspace, job.id, ["--resume"])
    eventually(lambda: (job.run_dir / "started").exists(), what="the worker to start")
    cancel(workspace, job.id)
    wait_state(job.id, CANCELLED)
    step = (job.run_dir / "checkpoint").read_text()

    resumed = resubmit(workspace, job.id, ["--resume"])
    assert resumed.id != job.id and resumed.resumed_from == job.id
    assert (resumed.run_dir, resumed.kind, resumed.config, resumed.cwd) == (
        job.run_dir,
        job.kind,
        job.config,
        job.cwd,
    )
    assert resumed.argv == [*job.argv, "--resume"]
    lines: list[str] = []
    done = wait(workspace, resumed.id, on_log=lines.append, poll_s=0.05)
    assert done.state == SUCCEEDED
    assert lines[1:] == [f"resuming from step {step}"]  # only this job's part of the shared log
    assert "saved checkpoint" in done.log_path.read_text()  # the earlier run's output is kept
    again = resubmit(workspace, resumed.id, ["--resume"])
    assert again.argv == resumed.argv and again.resumed_from == resumed.id
    cancel(workspace, again.id)
    assert get_job(workspace, again.id).state == CANCELLED
