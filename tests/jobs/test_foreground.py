"""A job followed in the foreground (train / pairs generate / eval without --detach) is
cancelled when its command is interrupted, as `timeout` or Ctrl-C does it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from studio.jobs import CANCELLED, get_job

from .conftest import REPO_ROOT

HANG_S = 300  # a bound that only a hung command reaches, however loaded the machine
# The follower stands for a command in a terminal's foreground, where Ctrl-C raises
# KeyboardInterrupt; a shell starts background commands (this suite, for one) with SIGINT ignored,
# and the child would inherit that.
FOLLOW = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from studio.jobs import exit_code, follow_in_terminal; "
    "from studio.workspace import Workspace; "
    "sys.exit(exit_code(follow_in_terminal(Workspace.open(sys.argv[1]), int(sys.argv[2]))))"
)


@pytest.mark.parametrize("interrupt", [signal.SIGTERM, signal.SIGINT])
def test_interrupting_the_foreground_command_cancels_its_job(
    workspace, submit_sample, eventually, interrupt
) -> None:
    job = submit_sample("loop")
    command = subprocess.Popen(
        [sys.executable, "-c", FOLLOW, str(workspace.root), str(job.id)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: (job.run_dir / "started").exists(), 30, "the job to start")
        command.send_signal(interrupt)
        stdout, stderr = command.communicate(timeout=HANG_S)
    finally:
        command.kill()
    assert command.returncode == 3, stderr
    assert f"interrupted: cancelling job {job.id}" in stderr
    assert f"job {job.id} cancelled" in stderr
    assert "saved checkpoint at step" in stdout  # the worker saw the cancel and saved
    assert get_job(workspace, job.id).state == CANCELLED
    assert (job.run_dir / "checkpoint").read_text().isdigit()


def test_the_followed_job_prints_its_phases_and_a_progress_bar_with_eta(
    workspace, submit_sample, eventually
) -> None:
    job = submit_sample("progress")
    command = subprocess.Popen(
        [sys.executable, "-c", FOLLOW, str(workspace.root), str(job.id)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []  # the follower's stdout so far, read as it prints

    def read_stdout() -> None:
        for line in command.stdout:
            lines.append(line.rstrip("\n"))

    def printed(start: str) -> bool:
        return any(line.startswith(start) for line in list(lines))

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        eventually(lambda: printed("loading the model"), HANG_S, "the loading phase printed")
        (job.run_dir / "go").touch()
        eventually(lambda: printed("generating 2/4 |"), HANG_S, "the halfway count printed")
        (job.run_dir / "release").touch()
        command.wait(timeout=HANG_S)
        reader.join(timeout=HANG_S)
        stderr = command.stderr.read()
    finally:
        command.kill()
    assert command.returncode == 0, stderr
    assert "[studio] loading the model" in lines  # the worker's log
    assert "loading the model" in lines  # the bar before any count
    halfway = next(line for line in lines if line.startswith("generating 2/4 |"))
    assert "| 50% · " in halfway and " questions/s · ETA 0:" in halfway
