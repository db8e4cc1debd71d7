"""`python -m studio jobs ...` as a user runs it, and the detached daemon behind `--detach`."""

from __future__ import annotations

import json

from studio.jobs import (
    CANCELLED,
    RUNNING,
    SUCCEEDED,
    daemon_pid,
    ensure_background_supervisor,
    get_job,
    wait,
)
from studio.jobs.procs import start_time


def test_list_show_and_logs(workspace, submit_sample, jobs_cli) -> None:
    ok = submit_sample("succeed")
    wait(workspace, ok.id, poll_s=0.05)
    failed = submit_sample("studio-error", kind="eval")
    wait(workspace, failed.id, poll_s=0.05)

    table = jobs_cli("list")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:5] == ["ID", "KIND", "STATE", "CREATED", "DURATION"]
    assert [row.split()[:3] for row in rows] == [
        [str(failed.id), "eval", "failed"],
        [str(ok.id), "test", "succeeded"],
    ]
    listed = json.loads(jobs_cli("list", "--kind", "eval", "--json").stdout)
    assert [(item["id"], item["state"]) for item in listed] == [(failed.id, "failed")]

    shown = json.loads(jobs_cli("show", str(ok.id)).stdout)
    assert (shown["state"], shown["run_dir"], shown["error"]) == (
        "succeeded",
        str(ok.run_dir),
        None,
    )
    assert shown["last_metrics"] == {"step": 2, "loss": 1 / 3}
    assert (
        shown["status_file"]["status"] == "succeeded"
        and shown["started_at"]
        and shown["finished_at"]
    )
    assert json.loads(jobs_cli("show", str(failed.id)).stdout)["error"].startswith("dataset 'demo'")

    logs = jobs_cli("logs", str(ok.id))
    assert logs.stdout.splitlines()[1:] == ["hello from the worker", "done"]
    assert jobs_cli("logs", str(ok.id), "--tail", "1").stdout == "done\n"


def test_unknown_id_is_a_friendly_error(workspace, jobs_cli) -> None:
    for verb in ("show", "cancel", "logs"):
        result = jobs_cli(verb, "42")
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"error: no job 42 in workspace {workspace.root}; "
            "`python -m studio jobs list` shows the jobs there"
        )


def test_cancel_without_a_live_supervisor_starts_the_daemon(
    workspace, submit_sample, daemon, wait_state, eventually, jobs_cli
) -> None:
    supervisor_process = daemon()
    job = submit_sample("loop")
    wait_state(job.id, RUNNING)
    eventually(lambda: (job.run_dir / "started").exists(), what="the worker to start")
    supervisor_process.kill()
    supervisor_process.wait()
    result = jobs_cli("cancel", str(job.id))
    assert result.returncode == 0 and "cancel requested" in result.stdout
    done = wait_state(job.id, CANCELLED)
    assert (job.run_dir / "checkpoint").exists() and done.exit_code == 3
    eventually(lambda: daemon_pid(workspace) is None, what="the daemon to exit once idle")
    again = jobs_cli("cancel", str(job.id))
    assert again.stdout.strip() == f"job {job.id} already cancelled; nothing to cancel"
    queued = submit_sample("succeed")
    assert (
        jobs_cli("cancel", str(queued.id)).stdout.strip()
        == f"job {queued.id} cancelled before it started"
    )


def test_detached_daemon_runs_queued_jobs_and_exits_when_idle(
    workspace, submit_sample, wait_state, eventually
) -> None:
    first, second = submit_sample("succeed"), submit_sample("succeed")
    pid = ensure_background_supervisor(workspace)
    assert pid is not None
    assert (
        eventually(
            lambda: (daemon_pid(workspace) or 0) > 0 and daemon_pid(workspace),
            what="the daemon's pid",
        )
        == pid
    )
    assert ensure_background_supervisor(workspace) is None  # one daemon per workspace
    for job in (first, second):
        wait_state(job.id, SUCCEEDED, timeout=30)
    eventually(lambda: daemon_pid(workspace) is None, what="the daemon to exit once idle")
    eventually(lambda: start_time(pid) is None, what="the daemon process to end")
    log = (workspace.root / "jobs-daemon.log").read_text()
    assert "started" in log and log.rstrip().endswith("stopped")
    assert get_job(workspace, first.id).owner.startswith(f"{pid}:")


def test_logs_follow_prints_until_the_job_ends(
    workspace, submit_sample, eventually, follow_logs
) -> None:
    job = submit_sample("loop")
    follow = follow_logs(job.id)  # no supervisor is alive: the follower runs one
    eventually(
        lambda: (job.run_dir / "started").exists(),
        what="the follower's supervisor to start the job",
    )
    (job.run_dir / "release").touch()
    out, err = follow.communicate(timeout=30)
    assert out.splitlines()[1:] == ["looping", "released"]
    assert err.strip() == f"[studio] job {job.id} succeeded"
