"""The supervisor: a background thread that starts queued jobs, watches running ones,
honours cancel requests and records how each job ended.

Several supervisors may share a workspace (the Gradio studio, a CLI daemon, `wait`):
claiming a queued job is one `BEGIN IMMEDIATE` transaction, so no job starts twice.
A running job belongs to the process that started it (`owner`); another supervisor
adopts it only once that process is gone, so the exit code is recorded by the one
that can see it.
"""

from __future__ import annotations

import datetime
import fcntl
import logging
import os
import shlex
import signal
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import IO

from studio.jobs import procs
from studio.jobs.model import CANCELLED, FAILED, FINAL_STATES, QUEUED, RUNNING, SUCCEEDED, Job
from studio.jobs.rundir import RunDir
from studio.jobs.runtime import JOB_ID_ENV, read_status
from studio.jobs.store import connect, fetch_state, immediate, session
from studio.workspace import WORKSPACE_ENV, Workspace

log = logging.getLogger(__name__)

MAX_JOBS_ENV = "STUDIO_MAX_JOBS"
DEFAULT_CANCEL_GRACE_S = 120.0
PRESENCE_LOCK = "supervisors.lock"

# Supervisors running in this process, per workspace root: ownership of running jobs
# is per process, so it is released only when the last one stops.
_active: dict[Path, set[Supervisor]] = {}
_active_lock = threading.Lock()


def default_max_concurrent() -> int:
    """`$STUDIO_MAX_JOBS`, else 1 (this is a small machine; a GPU host may allow more CPU jobs)."""
    value = os.environ.get(MAX_JOBS_ENV, "1")
    return max(1, int(value)) if value.isdigit() else 1


def _probe(job: Job) -> tuple[bool, int | None]:
    """(alive, exit code if known) for a running job's process."""
    child = procs.poll_child(job.pid) if job.pid is not None else None
    if child is not None:
        return child
    return procs.is_same_process_alive(job.pid, job.pid_start_time), None


def final_outcome(job: Job, exit_code: int | None) -> tuple[str, str | None, int | None]:
    """(state, error, exit code) of a job whose process has ended.

    The worker's status.json is the truth when present; otherwise a cancel request
    means cancelled, a clean exit succeeded, anything else a failure pointing at the log.
    """
    status = read_status(job.run_dir)
    if status and status.get("status") in FINAL_STATES and status.get("job_id") in (None, job.id):
        code = exit_code if exit_code is not None else status.get("exit_code")
        return status["status"], status.get("error"), code
    if job.cancel_requested:
        return CANCELLED, None, exit_code
    if exit_code == 0:
        return SUCCEEDED, None, exit_code
    detail = f" ({procs.describe_exit(exit_code)})" if exit_code is not None else ""
    return (
        FAILED,
        f"worker died (killed or crashed) without reporting; see {job.log_path}{detail}",
        exit_code,
    )


def _finish(conn: sqlite3.Connection, job: Job, exit_code: int | None) -> None:
    """Record the end of a job whose main process is gone, and kill any stragglers of its group."""
    state, error, code = final_outcome(job, exit_code)
    if job.pid is not None:
        procs.signal_group(job.pid, signal.SIGKILL)  # e.g. ranks left behind by a dead launcher
    conn.execute(
        "UPDATE jobs SET state = ?, error = ?, exit_code = ?, finished_at = ? "
        "WHERE id = ? AND state = ?",
        (state, error, code, time.time(), job.id, RUNNING),
    )
    procs.forget_child(job.pid)


def reconcile(ws: Workspace) -> list[Job]:
    """Settle jobs recorded running whose process is gone (state from status.json, else
    failed with an explanation); return those still running.

    A job is still running when its pid is alive *and* has the recorded start time (a
    reused pid is not mistaken for the worker). Jobs owned by another live supervisor
    process are left to it.
    """
    me = procs.identity()
    still_running = []
    with session(ws) as conn:
        for job in fetch_state(conn, RUNNING):
            if job.owner != me and procs.identity_alive(job.owner):
                still_running.append(job)
                continue
            alive, code = _probe(job)
            if alive:
                still_running.append(job)
            else:
                _finish(conn, job, code)
    return still_running


def supervisor_alive(ws: Workspace) -> bool:
    """True while any supervisor (in any process) runs on this workspace."""
    with open(ws.locks_dir / PRESENCE_LOCK, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


class Supervisor:
    """Start with `Supervisor(ws).start()`, stop with `.stop()`.

    `max_concurrent` caps all running jobs of the workspace (default `$STUDIO_MAX_JOBS`
    or 1); at most one `uses_gpu` job runs at a time. A cancelled job gets SIGTERM, then
    SIGKILL after `cancel_grace_s` (time for a trainer to save a checkpoint).
    """

    def __init__(
        self,
        ws: Workspace,
        poll_s: float = 0.5,
        *,
        max_concurrent: int | None = None,
        cancel_grace_s: float = DEFAULT_CANCEL_GRACE_S,
    ) -> None:
        self.ws = ws
        self.poll_s = poll_s
        self.max_concurrent = max_concurrent or default_max_concurrent()
        self.cancel_grace_s = cancel_grace_s
        self.me = procs.identity()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._presence: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Supervisor:
        """Reconcile the workspace, then supervise it from a daemon thread."""
        if self.running:
            return self
        self._presence = open(self.ws.locks_dir / PRESENCE_LOCK, "a+b")  # noqa: SIM115 - held until stop()
        fcntl.flock(self._presence.fileno(), fcntl.LOCK_SH)
        with _active_lock:
            _active.setdefault(self.ws.root, set()).add(self)
        reconcile(self.ws)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"job-supervisor:{self.ws.root}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop supervising; running jobs keep running. When no other supervisor of this
        process watches the workspace, their ownership is released for others to adopt."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with _active_lock:
            mine = _active.get(self.ws.root, set())
            mine.discard(self)
            last = not mine
        if last:
            with session(self.ws) as conn:
                conn.execute(
                    "UPDATE jobs SET owner = NULL WHERE state = ? AND owner = ?", (RUNNING, self.me)
                )
        if self._presence is not None:
            self._presence.close()
            self._presence = None

    def _loop(self) -> None:
        conn = connect(self.ws)
        try:
            while not self._stop.is_set():
                try:
                    self.tick(conn)
                except Exception:  # the thread must outlive a bad tick
                    log.exception("job supervisor for %s: tick failed; retrying", self.ws.root)
                self._stop.wait(self.poll_s)
        finally:
            conn.close()

    def tick(self, conn: sqlite3.Connection) -> None:
        """One pass: settle or signal running jobs, then start what the rules allow."""
        for job in fetch_state(conn, RUNNING):
            self._watch(conn, job)
        while not self._stop.is_set() and self._start_next(conn):
            pass

    def _watch(self, conn: sqlite3.Connection, job: Job) -> None:
        if job.owner != self.me:
            if procs.identity_alive(job.owner):
                return
            adopted = conn.execute(
                "UPDATE jobs SET owner = ? WHERE id = ? AND state = ? AND owner IS ?",
                (self.me, job.id, RUNNING, job.owner),
            ).rowcount
            if not adopted:
                return
            job = replace(job, owner=self.me)
        alive, code = _probe(job)
        if not alive:
            _finish(conn, job, code)
        elif job.cancel_requested:
            self._escalate(conn, job)

    def _escalate(self, conn: sqlite3.Connection, job: Job) -> None:
        """SIGTERM the job's process group once; SIGKILL it when the grace period is over."""
        now = time.time()
        if job.term_sent_at is None:
            procs.signal_group(job.pid, signal.SIGTERM)
            conn.execute("UPDATE jobs SET term_sent_at = ? WHERE id = ?", (now, job.id))
        elif now - job.term_sent_at >= self.cancel_grace_s:
            procs.signal_group(job.pid, signal.SIGKILL)

    def _start_next(self, conn: sqlite3.Connection) -> bool:
        """Claim and start the oldest queued job the rules allow; False when there is none."""
        with immediate(conn):
            running = fetch_state(conn, RUNNING)
            if len(running) >= self.max_concurrent:
                return False
            gpu_busy = any(job.uses_gpu for job in running)
            row = conn.execute(
                "SELECT * FROM jobs WHERE state = ? AND (uses_gpu = 0 OR ? = 0) "
                "ORDER BY id LIMIT 1",
                (QUEUED, int(gpu_busy)),
            ).fetchone()
            if row is None:
                return False
            self._launch(conn, Job.from_row(row))
            return True

    def _launch(self, conn: sqlite3.Connection, job: Job) -> None:
        """Spawn the job's process (inside the claiming transaction) and record it running."""
        now = time.time()
        offset = None
        try:
            job.run_dir.mkdir(parents=True, exist_ok=True)
            RunDir(job.run_dir).status.unlink(
                missing_ok=True
            )  # a predecessor's outcome is not ours
            offset = _log_header(job)
            env = procs.child_env({WORKSPACE_ENV: str(self.ws.root), JOB_ID_ENV: str(job.id)})
            process = procs.spawn(job.argv, job.cwd, job.log_path, env)
        except OSError as error:
            message = (
                f"could not start job {job.id}: {error} (command {job.argv[0]!r}, folder {job.cwd})"
            )
            log.error("%s", message)
            conn.execute(
                "UPDATE jobs SET state = ?, error = ?, started_at = ?, finished_at = ?, "
                "log_offset = ? WHERE id = ?",
                (FAILED, message, now, now, offset, job.id),
            )
            return
        conn.execute(
            "UPDATE jobs SET state = ?, pid = ?, pid_start_time = ?, started_at = ?, owner = ?, "
            "log_offset = ? WHERE id = ?",
            (
                RUNNING,
                process.pid,
                procs.start_time(process.pid, exited_too=True),
                now,
                self.me,
                offset,
                job.id,
            ),
        )


def _log_header(job: Job) -> int:
    """Append the job's header line to its log; return the offset where it starts."""
    with open(job.log_path, "ab") as log_file:
        offset = log_file.tell()
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        log_file.write(
            f"[studio] job {job.id} ({job.kind}) started {stamp}: {shlex.join(job.argv)}\n".encode()
        )
    return offset
