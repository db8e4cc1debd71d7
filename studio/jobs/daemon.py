"""The background supervisor daemon (`python -m studio jobs supervise`) behind `--detach`.

One daemon per workspace at most: it holds an exclusive lock on
`locks/jobs-daemon.lock` (which also records its pid) for as long as it runs, and exits
once no job is queued or running.
"""

from __future__ import annotations

import fcntl
import signal
import subprocess
import sys
import threading
from types import FrameType
from typing import IO

from studio.jobs import procs
from studio.jobs.model import QUEUED, RUNNING
from studio.jobs.store import session
from studio.jobs.supervisor import DEFAULT_CANCEL_GRACE_S, Supervisor
from studio.workspace import Workspace

DAEMON_LOCK = "jobs-daemon.lock"
DAEMON_LOG = "jobs-daemon.log"


def _open_lock(ws: Workspace) -> IO[bytes]:
    return open(ws.locks_dir / DAEMON_LOCK, "a+b")


def _try_lock(handle: IO[bytes]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def daemon_pid(ws: Workspace) -> int | None:
    """The pid of this workspace's live daemon (-1 while it is starting), or None when none runs."""
    with _open_lock(ws) as handle:
        if _try_lock(handle):
            return None
        handle.seek(0)
        text = handle.read().decode().strip()
    return int(text) if text.isdigit() else -1


def ensure_background_supervisor(ws: Workspace) -> int | None:
    """Start a detached supervisor daemon for `ws` unless one is alive; return the new pid, or None.

    The daemon outlives the caller (own session), logs to `<workspace>/jobs-daemon.log`
    and exits when no job is queued or running.
    """
    if daemon_pid(ws) is not None:
        return None
    with open(ws.root / DAEMON_LOG, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "studio", "jobs", "supervise", "--workspace", str(ws.root)],
            cwd=ws.root,
            env=procs.child_env({}),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def _has_work(ws: Workspace) -> bool:
    with session(ws) as conn:
        row = conn.execute(
            "SELECT 1 FROM jobs WHERE state IN (?, ?) LIMIT 1", (QUEUED, RUNNING)
        ).fetchone()
    return row is not None


def run_daemon(
    ws: Workspace,
    *,
    poll_s: float = 0.5,
    max_concurrent: int | None = None,
    cancel_grace_s: float = DEFAULT_CANCEL_GRACE_S,
    forever: bool = False,
) -> int:
    """Supervise `ws` in the foreground until it is idle (or SIGTERM/SIGINT; never, if `forever`).

    Returns 0; returns at once when another daemon holds the workspace.
    """
    lock = _open_lock(ws)
    if not _try_lock(lock):
        lock.close()
        print(
            f"a job supervisor daemon already runs for {ws.root} (pid {daemon_pid(ws)})", flush=True
        )
        return 0
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    supervisor = Supervisor(
        ws, poll_s, max_concurrent=max_concurrent, cancel_grace_s=cancel_grace_s
    )
    try:
        lock.truncate(0)
        lock.write(f"{procs.identity().partition(':')[0]}\n".encode())
        lock.flush()
        supervisor.start()
        print(f"job supervisor daemon for {ws.root} started", flush=True)
        while not stop.wait(poll_s):
            if forever or _has_work(ws):
                continue
            # Release first, then look again: a job submitted meanwhile either sees no
            # daemon (and starts one) or is seen here.
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            if not _has_work(ws) or not _try_lock(lock):
                break
    finally:
        supervisor.stop()
        lock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"job supervisor daemon for {ws.root} stopped", flush=True)
    return 0
