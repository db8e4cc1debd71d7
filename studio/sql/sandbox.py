"""The executor: a child process that runs the studio's queries, stopped when one overstays.

Every query runs in an executor process (`python -m studio.sql.sandbox`) with an
address-space limit, so a query that outgrows its memory, or outlives its timeout by
`GRACE_S` in a step the engine's own deadline cannot interrupt, costs a restarted executor
instead of the studio, an evaluation or a mining job. Each calling process keeps a small
pool of executors, one per thread in use; their connections stay open between queries.
An executor ignores a job's cancel signal (`ignore_stop_signals`); it ends when its caller
closes its pipes, or is killed.
"""

from __future__ import annotations

import atexit
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from studio.errors import StudioError
from studio.sql.connect import DatabaseRef
from studio.sql.limits import QueryBounds
from studio.sql.result import ExecResult

GRACE_S = 1.0  # how long past its timeout a query may take before its executor is stopped
START_TIMEOUT_S = 120.0  # how long a new executor may take to import and say it is ready
MAX_IDLE = 4  # executors kept per process between queries
READY = "ready"


@dataclass(frozen=True)
class Request:
    """One query for an executor."""

    database: DatabaseRef
    sql: str
    timeout_s: float
    max_rows: int | None


@dataclass(frozen=True)
class Reply:
    """An executor's answer: a result or a StudioError message, warnings, whether to retire."""

    result: ExecResult | None
    error: str | None
    notices: tuple[str, ...]
    retire: bool


class Executor:
    """One executor process and the pipes to it."""

    def __init__(self) -> None:
        from studio.jobs.procs import child_env

        child_read, parent_write = os.pipe()
        parent_read, child_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "studio.sql.sandbox", str(child_read), str(child_write)],
                pass_fds=(child_read, child_write),
                env=child_env({}),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except BaseException:
            for fd in (parent_read, parent_write):
                os.close(fd)
            raise
        finally:
            os.close(child_read)
            os.close(child_write)
        self.replies = Connection(parent_read, writable=False)
        self.requests = Connection(parent_write, readable=False)
        self.usable = True
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Queries are timed from when they are sent, so the executor's start is not counted."""
        try:
            if self.replies.poll(START_TIMEOUT_S) and self.replies.recv() == READY:
                return
        except (EOFError, OSError):
            pass
        self.stop()
        raise StudioError(
            f"the SQL executor (python -m studio.sql.sandbox) did not start ({self._exit()}); "
            "its error output above says why"
        )

    def run(self, request: Request) -> Reply:
        """Send one query and wait at most its timeout plus GRACE_S for the answer."""
        started = time.monotonic()
        finished = False
        try:
            self.requests.send(request)
            if not self.replies.poll(request.timeout_s + GRACE_S):
                self.stop()
                return _stopped(request, started, "its executor was stopped")
            reply: Reply = self.replies.recv()
            finished = True
        except (EOFError, OSError):
            self.stop()
            return _stopped(request, started, f"its executor ended ({self._exit()})", "other")
        finally:
            if not finished:
                self.stop()  # interrupted while a query ran: the executor's state is unknown
        if reply.retire:
            self.stop()
        return reply

    def _exit(self) -> str:
        code = self.process.poll()
        return "still running" if code is None else f"exit code {code}"

    def stop(self) -> None:
        """Kill the process (if it runs) and close the pipes; the executor is not used again."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.close_pipes()

    def close_pipes(self) -> None:
        self.usable = False
        for pipe in (self.requests, self.replies):
            if not pipe.closed:
                pipe.close()


def _stopped(request: Request, started: float, why: str, kind: str = "timeout") -> Reply:
    message = (
        f"query stopped after {request.timeout_s:g} s ({why})"
        if kind == "timeout"
        else f"query did not finish: {why}"
    )
    result = ExecResult(
        ok=False, error_kind=kind, error=message, elapsed_s=time.monotonic() - started
    )
    return Reply(result, None, (), retire=True)


class _Pool:
    """Idle executors of this process; a forked child starts with none of its parent's."""

    def __init__(self) -> None:
        self.idle: list[Executor] = []
        self.lock = threading.Lock()
        self.shown: set[str] = set()

    def take(self) -> Executor:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        return Executor()

    def give_back(self, executor: Executor) -> None:
        if not executor.usable:
            return
        with self.lock:
            if len(self.idle) < MAX_IDLE:
                self.idle.append(executor)
                return
        executor.stop()

    def show_once(self, notices: tuple[str, ...]) -> None:
        for notice in notices:
            with self.lock:
                if notice in self.shown:
                    continue
                self.shown.add(notice)
            print(f"warning: {notice}", file=sys.stderr, flush=True)

    def close_all(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for executor in idle:
            executor.close_pipes()  # the executor reads end-of-file and exits

    def forget_inherited(self) -> None:
        self.lock = threading.Lock()
        for executor in self.idle:
            executor.close_pipes()
        self.idle = []


_POOL = _Pool()
atexit.register(_POOL.close_all)
os.register_at_fork(after_in_child=_POOL.forget_inherited)


def run_sandboxed(request: Request) -> ExecResult:
    """`request` run by one of this process's executors; StudioError for a bad database."""
    QueryBounds.from_env()  # a bad bound setting is the caller's error, not a query's
    executor = _POOL.take()
    try:
        reply = executor.run(request)
    finally:
        _POOL.give_back(executor)
    _POOL.show_once(reply.notices)
    if reply.error is not None:
        raise StudioError(reply.error)
    assert reply.result is not None
    return reply.result


def _serve(requests: Connection, replies: Connection) -> None:
    from studio.sql import account
    from studio.sql.engines import failure, run_query

    bounds = QueryBounds.from_env()
    _limit_memory(bounds.memory_bytes)
    replies.send(READY)
    while True:
        try:
            request: Request = requests.recv()
        except EOFError:
            return
        started = time.monotonic()
        result, error = None, None
        try:
            result = run_query(
                request.database, request.sql, request.timeout_s, request.max_rows, bounds
            )
        except StudioError as studio_error:
            error = str(studio_error)
        except Exception as unexpected:  # noqa: BLE001 - every query gets a verdict
            result = failure("other", f"{type(unexpected).__name__}: {unexpected}", started)
        notices = tuple(account.notices)
        account.notices.clear()
        retire = result is not None and result.error_kind == "too_large"
        replies.send(Reply(result, error, notices, retire))


def _limit_memory(limit: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> int:
    """The executor's loop: `python -m studio.sql.sandbox READ_FD WRITE_FD`."""
    from studio.jobs.procs import ignore_stop_signals

    ignore_stop_signals()
    requests = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    _serve(requests, replies)
    return 0


if __name__ == "__main__":
    # Run the imported module's loop, so the replies pickle as studio.sql.sandbox.Reply.
    from studio.sql.sandbox import main as imported_main

    raise SystemExit(imported_main(sys.argv[1:]))
