"""A killed supervisor: its successor re-attaches to live jobs and finds the true state of the
others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from studio.jobs import CANCELLED, FAILED, RUNNING, SUCCEEDED, cancel, get_job, reconcile
from studio.jobs.procs import identity
from studio.jobs.store import session


def test_restarted_supervisor_reattaches_and_finds_true_states(
    workspace, submit_sample, supervisors, daemon, wait_state, eventually
) -> None:
    keeps_running, finishes, gets_killed = (submit_sample("loop", uses_gpu=False) for _ in range(3))
    supervisor_process = daemon("--max-jobs", "3")
    for job in (keeps_running, finishes, gets_killed):
        eventually(
            lambda job=job: (job.run_dir / "started").exists(), what=f"job {job.id} to start"
        )
    owner = get_job(workspace, keeps_running.id).owner
    assert owner.startswith(f"{supervisor_process.pid}:")
    supervisor_process.kill()  # the studio dies; its jobs do not
    supervisor_process.wait()

    (finishes.run_dir / "release").touch()
    victim = get_job(workspace, gets_killed.id)
    os.kill(victim.pid, signal.SIGKILL)
    finisher = get_job(workspace, finishes.id)
    eventually(lambda: not _alive(finisher.pid), what="the released worker to end")
    eventually(lambda: not _alive(victim.pid), what="the killed worker to go")
    assert get_job(workspace, finishes.id).state == RUNNING  # nobody has looked yet

    supervisors()  # reconciles on start
    assert get_job(workspace, finishes.id).state == SUCCEEDED
    killed = get_job(workspace, gets_killed.id)
    assert killed.state == FAILED and killed.exit_code is None  # no one saw its exit status
    assert (
        killed.error
        == f"worker died (killed or crashed) without reporting; see {gets_killed.run_dir / 'log'}"
    )
    alive = wait_state(keeps_running.id, RUNNING)
    eventually(
        lambda: get_job(workspace, keeps_running.id).owner == identity(),
        what="the job to be adopted",
    )
    assert alive.pid == get_job(workspace, keeps_running.id).pid

    cancel(workspace, keeps_running.id)  # the adopted job is fully supervised again
    done = wait_state(keeps_running.id, CANCELLED)
    assert done.exit_code == 3  # from status.json: the worker is no child of ours
    assert (keeps_running.run_dir / "checkpoint").exists()


def test_a_reused_pid_is_not_mistaken_for_the_worker(
    workspace, submit_sample, supervisors, wait_state
) -> None:
    supervisor = supervisors()
    job = submit_sample("loop")
    running = wait_state(job.id, RUNNING)
    supervisor.stop()
    os.killpg(running.pid, signal.SIGKILL)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with session(
            workspace
        ) as conn:  # as if the kernel had given the worker's pid to `stranger`
            conn.execute(
                "UPDATE jobs SET pid = ?, owner = NULL WHERE id = ?", (stranger.pid, job.id)
            )
        assert reconcile(workspace) == []
        assert get_job(workspace, job.id).state == FAILED
        assert stranger.poll() is None  # and the stranger was left alone
    finally:
        stranger.kill()
        stranger.wait()


def _alive(pid: int) -> bool:
    from studio.jobs.procs import start_time

    return start_time(pid) is not None
