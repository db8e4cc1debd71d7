"""Following a job: its log from where the job's own output starts, and `wait`."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TextIO

from studio.jobs.model import CANCELLED, FAILED, SUCCEEDED, Job
from studio.jobs.store import cancel, get_job
from studio.jobs.supervisor import Supervisor, supervisor_alive
from studio.workspace import Workspace


class LogFollower:
    """Reads a job's log incrementally, yielding complete lines (without the newline)."""

    def __init__(self, job: Job) -> None:
        self.path = job.log_path
        self.offset: int | None = job.log_offset
        self._partial = b""

    def new_lines(self, job: Job, final: bool = False) -> list[str]:
        """Lines written since the last call; with `final`, also an unterminated last line."""
        if self.offset is None:
            self.offset = job.log_offset
            if self.offset is None:
                return []
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        if final and self._partial:
            complete.append(self._partial)
            self._partial = b""
        return [line.decode("utf-8", errors="replace") for line in complete]


def log_lines(job: Job, tail: int | None = None) -> Iterator[str]:
    """This job's log lines (the last `tail` when given); nothing before it has started."""
    if job.log_offset is None or not job.log_path.exists():
        return iter(())
    lines = LogFollower(job).new_lines(job, final=True)
    return iter(deque(lines, maxlen=tail) if tail is not None else lines)


def wait(
    ws: Workspace,
    job_id: int,
    on_log: Callable[[str], None] | None = None,
    poll_s: float = 0.5,
    *,
    log_follower: LogFollower | None = None,
    on_poll: Callable[[Job], None] | None = None,
) -> Job:
    """Block until job `job_id` has finished and return it, passing each new log line to `on_log`
    and the job to `on_poll` after each poll.

    When no supervisor runs for the workspace (checked on every poll), one runs in this
    process for the duration of the wait. Pass `log_follower` to continue from lines
    already read.
    """
    job = get_job(ws, job_id)
    follower = log_follower or LogFollower(job)
    supervisor: Supervisor | None = None
    try:
        while True:
            job = get_job(ws, job_id)
            if not job.finished and not supervisor_alive(ws):
                supervisor = Supervisor(ws, poll_s).start()
            if on_log is not None:
                for line in follower.new_lines(job, final=job.finished):
                    on_log(line)
            if on_poll is not None:
                on_poll(job)
            if job.finished:
                return job
            time.sleep(poll_s)
    finally:
        if supervisor is not None:
            supervisor.stop()


EXIT_CODES = {SUCCEEDED: 0, FAILED: 1, CANCELLED: 3}


def follow_in_terminal(ws: Workspace, job_id: int, log_stream: TextIO = sys.stdout) -> Job:
    """`wait` for a job from the CLI: echo its log to `log_stream` with a progress bar under it
    (phase, N/M, rate, ETA; studio.jobs.terminal), its outcome to stderr.

    The command in the foreground owns its job: Ctrl-C or SIGTERM (`timeout`, `kill`) cancels
    it, and the job gets the same SIGTERM and grace period as `jobs cancel` (a trainer saves a
    checkpoint to resume from) before this returns it. A second interrupt stops waiting;
    the job is still cancelled by the next supervisor. `--detach` leaves a job running.
    """
    from studio.jobs.monitor import snapshot
    from studio.jobs.terminal import ProgressDisplay

    display = ProgressDisplay(log_stream)

    def show(job: Job) -> None:
        display.show(snapshot(ws, job, log_lines=0))

    follower = LogFollower(get_job(ws, job_id))
    follow = {"on_log": display.log, "log_follower": follower, "on_poll": show}
    try:
        try:
            with _sigterm_interrupts():
                job = wait(ws, job_id, **follow)
        except KeyboardInterrupt:
            display.close()
            print(f"interrupted: cancelling job {job_id}", file=sys.stderr, flush=True)
            cancel(ws, job_id)
            with _sigterm_interrupts():
                job = wait(ws, job_id, **follow)
    finally:
        display.close()
    print(
        f"job {job.id} {job.state}" + (f": {job.error}" if job.error else ""),
        file=sys.stderr,
        flush=True,
    )
    return job


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(job: Job) -> int:
    """The CLI's exit status for a finished job: 0 succeeded, 1 failed, 3 cancelled."""
    return EXIT_CODES.get(job.state, 1)
