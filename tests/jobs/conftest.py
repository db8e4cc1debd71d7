"""Fixtures for the job system: a sample worker script, supervisors, a daemon process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from studio.jobs import RUNNING, Job, Supervisor, get_job, list_jobs, submit
from studio.jobs.procs import is_same_process_alive
from studio.workspace import Workspace

SAMPLE_WORKER = Path(__file__).with_name("sample_worker.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_S = 0.05


def _eventually(
    predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition"
) -> object:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def eventually() -> Callable[..., object]:
    """`eventually(predicate, timeout=15, what=...)`: poll until truthy, else fail."""
    return _eventually


@pytest.fixture
def submit_sample(workspace: Workspace) -> Callable[..., Job]:
    """`submit_sample(mode, *extra, uses_gpu=True)`: queue the sample worker with a fresh run
    folder."""

    def submit_one(mode: str, *extra: str, uses_gpu: bool = True, kind: str = "test") -> Job:
        run_dir = workspace.new_run_dir(kind)
        argv = [sys.executable, str(SAMPLE_WORKER), mode, str(run_dir), *extra]
        return submit(
            workspace,
            kind,
            argv,
            run_dir,
            uses_gpu=uses_gpu,
            title=f"sample {mode}",
            config={"mode": mode},
        )

    return submit_one


@pytest.fixture
def wait_state(workspace: Workspace) -> Callable[..., Job]:
    """`wait_state(job_id, *states, timeout=15)`: the job once it is in one of `states`."""

    def wait_for(job_id: int, *states: str, timeout: float = 15.0) -> Job:
        return _eventually(
            lambda: (job := get_job(workspace, job_id)).state in states and job,
            timeout,
            f"job {job_id} to become {'/'.join(states)}",
        )

    return wait_for


@pytest.fixture
def jobs_cli(workspace: Workspace) -> Callable[..., subprocess.CompletedProcess]:
    """`jobs_cli(*args)`: run `python -m studio jobs ARGS --workspace W` and capture its output."""

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            jobs_command(workspace, *args),
            check=False,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def jobs_command(workspace: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "studio", "jobs", *args, "--workspace", str(workspace.root)]


@pytest.fixture
def supervisors(workspace: Workspace) -> Iterator[Callable[..., Supervisor]]:
    """A factory of started supervisors on `workspace` (fast polling); all stopped afterwards."""
    started: list[Supervisor] = []

    def make(**options: object) -> Supervisor:
        options = {"cancel_grace_s": 10.0, **options}
        supervisor = Supervisor(workspace, POLL_S, **options).start()
        started.append(supervisor)
        return supervisor

    yield make
    for supervisor in started:
        supervisor.stop()


@pytest.fixture
def daemon(workspace: Workspace) -> Iterator[Callable[..., subprocess.Popen]]:
    """A factory of `python -m studio jobs supervise` processes on `workspace`; killed
    afterwards."""
    processes: list[subprocess.Popen] = []

    def start(*options: str) -> subprocess.Popen:
        process = subprocess.Popen(
            jobs_command(workspace, "supervise", "--poll", str(POLL_S), *options), cwd=REPO_ROOT
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


@pytest.fixture
def follow_logs(workspace: Workspace) -> Callable[[int], subprocess.Popen]:
    """`follow_logs(job_id)`: a running `python -m studio jobs logs ID --follow` (text pipes)."""
    processes: list[subprocess.Popen] = []

    def start(job_id: int) -> subprocess.Popen:
        process = subprocess.Popen(
            jobs_command(workspace, "logs", str(job_id), "--follow"),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.communicate()


@pytest.fixture(autouse=True)
def kill_leftover_workers(workspace: Workspace) -> Iterator[None]:
    """After each test, SIGKILL the process group of any job still recorded running."""
    yield
    for job in list_jobs(workspace):
        if job.state == RUNNING and is_same_process_alive(job.pid, job.pid_start_time):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGKILL)
