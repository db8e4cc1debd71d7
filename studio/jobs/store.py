"""The `jobs` table in the workspace's studio.db: submit, read, cancel, resubmit, transitions."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.jobs.model import CANCELLED, FINAL_STATES, QUEUED, RUNNING, STATES, Job
from studio.workspace import Workspace, immediate

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    argv TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    cwd TEXT NOT NULL,
    uses_gpu INTEGER NOT NULL,
    config TEXT,
    pid INTEGER,
    pid_start_time INTEGER,
    exit_code INTEGER,
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    resumed_from INTEGER REFERENCES jobs(id),
    owner TEXT,
    term_sent_at REAL,
    log_offset INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""


def connect(ws: Workspace) -> sqlite3.Connection:
    """A connection to studio.db with the jobs table in place (autocommit; see `immediate`)."""
    return ws.connect_with_schema(SCHEMA)


def session(ws: Workspace) -> contextlib.AbstractContextManager[sqlite3.Connection]:
    """A connection (jobs table in place), closed afterwards."""
    return ws.schema_session(SCHEMA)


def fetch(conn: sqlite3.Connection, job_id: int) -> Job | None:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return Job.from_row(row) if row else None


def fetch_state(conn: sqlite3.Connection, state: str) -> list[Job]:
    rows = conn.execute("SELECT * FROM jobs WHERE state = ? ORDER BY id", (state,)).fetchall()
    return [Job.from_row(row) for row in rows]


def _unknown_job(ws: Workspace, job_id: int) -> StudioError:
    return StudioError(
        f"no job {job_id} in workspace {ws.root}; `python -m studio jobs list` shows the jobs there"
    )


def get_job(ws: Workspace, job_id: int) -> Job:
    """The job `job_id`; StudioError naming the workspace when there is none."""
    with session(ws) as conn:
        job = fetch(conn, job_id)
    if job is None:
        raise _unknown_job(ws, job_id)
    return job


def list_jobs(ws: Workspace, kind: str | None = None, limit: int = 100) -> list[Job]:
    """The newest `limit` jobs (of `kind` if given), newest first."""
    with session(ws) as conn:
        if kind is None:
            rows = conn.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE kind = ? ORDER BY id DESC LIMIT ?", (kind, limit)
            ).fetchall()
    return [Job.from_row(row) for row in rows]


def _insert(conn: sqlite3.Connection, values: dict[str, Any]) -> int:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    return conn.execute(
        f"INSERT INTO jobs ({names}) VALUES ({marks})", tuple(values.values())
    ).lastrowid


def _config_json(config: dict[str, Any] | None) -> str | None:
    if config is None:
        return None
    try:
        return json.dumps(config, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise StudioError(
            f"job config must be JSON-serialisable (plain dicts, lists, numbers, text): {error}"
        ) from error


def submit(
    ws: Workspace,
    kind: str,
    argv: Sequence[str],
    run_dir: Path,
    *,
    uses_gpu: bool = True,
    title: str = "",
    config: dict[str, Any] | None = None,
    cwd: str | Path | None = None,
    resumed_from: int | None = None,
) -> Job:
    """Queue `argv` as a job run in `cwd` (default: the current directory), output in
    `run_dir` (created if absent). A supervisor starts it when the concurrency rules
    allow (one GPU job at a time, at most `max_concurrent` jobs in all).
    """
    argv = [str(part) for part in argv]
    if not argv:
        raise StudioError(f"cannot submit a {kind!r} job with an empty command line")
    run_dir = Path(run_dir).expanduser().resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    with session(ws) as conn:
        job_id = _insert(
            conn,
            {
                "kind": kind,
                "title": title,
                "state": QUEUED,
                "argv": json.dumps(argv),
                "run_dir": str(run_dir),
                "cwd": str(Path(cwd).resolve()) if cwd is not None else os.getcwd(),
                "uses_gpu": int(uses_gpu),
                "config": _config_json(config),
                "created_at": time.time(),
                "resumed_from": resumed_from,
            },
        )
        return fetch(conn, job_id)


def cancel(ws: Workspace, job_id: int) -> Job:
    """Cancel a job: a queued one at once; a running one is marked, and its supervisor
    sends SIGTERM, then SIGKILL after the grace period. A finished job is left as it is."""
    with session(ws) as conn, immediate(conn):
        job = fetch(conn, job_id)
        if job is None:
            raise _unknown_job(ws, job_id)
        if job.state == QUEUED:
            conn.execute(
                "UPDATE jobs SET state = ?, cancel_requested = 1, finished_at = ? WHERE id = ?",
                (CANCELLED, time.time(), job_id),
            )
        elif job.state == RUNNING:
            conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
        return fetch(conn, job_id)


def resubmit(ws: Workspace, job_id: int, extra_argv: Sequence[str] = ()) -> Job:
    """Queue a finished job again (same kind, run folder, config), its argv plus `extra_argv`
    (not appended twice when the argv already ends with it, e.g. resuming a resumed run)."""
    job = get_job(ws, job_id)
    if job.state not in FINAL_STATES:
        raise StudioError(
            f"job {job_id} is {job.state}; wait for it to finish or cancel it "
            f"(`python -m studio jobs cancel {job_id}`) before resubmitting"
        )
    extra = [str(part) for part in extra_argv]
    argv = list(job.argv)
    if extra and argv[-len(extra) :] != extra:
        argv += extra
    return submit(
        ws,
        job.kind,
        argv,
        job.run_dir,
        uses_gpu=job.uses_gpu,
        title=job.title,
        config=job.config,
        cwd=job.cwd,
        resumed_from=job.id,
    )
