"""Process identity, spawning and signalling for job subprocesses (Linux /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

from studio.project import PACKAGE_DIR

PACKAGE_PARENT = PACKAGE_DIR.parent

# Popen handles of the jobs this process started, by pid: any supervisor in this
# process can collect their exit codes (and reap them) even if another one started them.
_children: dict[int, subprocess.Popen] = {}
_children_lock = threading.Lock()


def start_time(pid: int, *, exited_too: bool = False) -> int | None:
    """The process's start time (clock ticks since boot); None if it is gone, or has
    exited and awaits reaping (a zombie) unless `exited_too`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # fields 3.. of proc_pid_stat(5)
    if fields[0] in ("Z", "X") and not exited_too:
        return None
    return int(fields[19])  # field 22: starttime


def is_same_process_alive(pid: int | None, expected_start: int | None) -> bool:
    """True when `pid` runs and is the process that started at `expected_start` (no pid reuse)."""
    return pid is not None and expected_start is not None and start_time(pid) == expected_start


def identity() -> str:
    """This process as "pid:start_time", the owner tag of the jobs it supervises."""
    return f"{os.getpid()}:{start_time(os.getpid())}"


def identity_alive(tag: str | None) -> bool:
    """True when the process named by an `identity()` tag still runs."""
    if not tag:
        return False
    pid, _, start = tag.partition(":")
    return pid.isdigit() and start.isdigit() and is_same_process_alive(int(pid), int(start))


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The inherited environment, unbuffered Python, the project on PYTHONPATH, plus `extra`."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(PACKAGE_PARENT) not in paths:
        paths.insert(0, str(PACKAGE_PARENT))
    env.update(PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1", **extra)
    return env


def spawn(argv: list[str], cwd: str, log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start `argv` in its own session (so its process group can be signalled), output appended
    to `log_path`."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    with _children_lock:
        _children[process.pid] = process
    return process


def poll_child(pid: int) -> tuple[bool, int | None] | None:
    """(still running, exit code) for a job this process started; None if it is not our child."""
    with _children_lock:
        process = _children.get(pid)
    if process is None:
        return None
    code = process.poll()
    return code is None, code


def forget_child(pid: int | None) -> None:
    with _children_lock:
        _children.pop(pid, None)


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the job's process group (all ranks under `accelerate launch`); False if none
    is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def ignore_stop_signals() -> None:
    """For a job's helper processes (SQL executors, scoring workers): a cancel SIGTERMs the
    job's whole process group, and the job, not the signal, decides when they stop (they end
    with their parent, or are killed with the group after the cancel's grace period)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def describe_exit(code: int) -> str:
    """ "exit code 2" or "killed by SIGKILL" for a Popen-style return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
