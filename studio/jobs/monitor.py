"""What a job is doing now, for every job kind: one snapshot from its jobs-table row and its run
folder, shared by the studio's job panel and the CLI's progress bar.

    snap = snapshot(ws, job_id)
    snap.state        # queued, running, cancelling, cancelled, succeeded, failed
    snap.progress     # "step 3/8", "generating 12/20", "loading the model"
    snap.eta_s        # seconds left (None when unknown or the job is not running)

The state is read from the jobs table on every call, after settling a job whose process is gone
while no supervisor watches it, so it never shows "running" for a worker that has ended; a
running job whose cancel was asked is "cancelling" until its process ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.jobs.model import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from studio.jobs.rundir import RunDir
from studio.jobs.runs import log_tail
from studio.jobs.runtime import TRAINING, last_jsonl_record
from studio.jobs.store import get_job, list_jobs
from studio.jobs.supervisor import reconcile, supervisor_alive

if TYPE_CHECKING:
    from studio.workspace import Workspace

CANCELLING = "cancelling"
MONITOR_STATES = (QUEUED, RUNNING, CANCELLING, CANCELLED, SUCCEEDED, FAILED)
STARTING = "starting"
WAITING = "waiting for a free slot"
LOG_LINES = 30


@dataclass(frozen=True)
class Snapshot:
    """One job as it stands: state, phase with its count, rate, ETA, the log's tail, error."""

    job: Job
    state: str
    phase: str
    done: int | None
    total: int | None
    unit: str
    rate: float | None
    eta_s: float | None
    log: str

    @property
    def finished(self) -> bool:
        return self.state in (CANCELLED, SUCCEEDED, FAILED)

    @property
    def active(self) -> bool:
        """Queued, running or cancelling: the page keeps polling."""
        return not self.finished

    @property
    def error(self) -> str | None:
        return self.job.error

    @property
    def run_name(self) -> str:
        return self.job.run_dir.name

    @property
    def fraction(self) -> float | None:
        """Share of the phase done (0..1), None when the phase has no count."""
        if self.done is None or not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)

    @property
    def progress(self) -> str:
        """The phase and its count: "step 3/8", "generating 12/20", "loading the model"."""
        if self.done is None or self.total is None:
            return self.phase
        if self.phase == TRAINING:
            return f"step {self.done}/{self.total}"
        return f"{self.phase} {self.done}/{self.total}"

    @property
    def can_cancel(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def can_delete(self) -> bool:
        return self.finished

    def line(self) -> str:
        """One line: state, progress, rate and ETA (what the CLI prints when not on a terminal)."""
        parts = [self.state]
        if self.active and self.phase:
            parts.append(self.progress)
        if self.rate is not None and self.state == RUNNING:
            parts.append(f"{format_rate(self.rate)} {self.unit}/s".replace(" /s", "/s"))
        if self.eta_s is not None:
            parts.append(f"ETA {format_duration(self.eta_s)}")
        if self.error:
            parts.append(self.error)
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    """`1:02:03`, `2:05`, `0:07`."""
    whole = max(int(round(seconds)), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(rate: float) -> str:
    """A rate with two significant figures below 10, whole numbers above."""
    return f"{rate:.2g}" if rate < 10 else f"{rate:.0f}"


def job_state(job: Job) -> str:
    """The job's state for display: "cancelling" for a running job asked to stop."""
    if job.state == RUNNING and job.cancel_requested:
        return CANCELLING
    return job.state


def current_progress(job: Job) -> dict[str, Any] | None:
    """The last progress record this job wrote (a resumed run's file holds its predecessors')."""
    record = last_jsonl_record(RunDir(job.run_dir).progress)
    if record is None or record.get("job") not in (None, job.id):
        return None
    return record


def _fresh(ws: Workspace, job: Job) -> Job:
    """`job` re-read, settled first when it is recorded running but no supervisor watches it."""
    if job.state == RUNNING and not supervisor_alive(ws):
        reconcile(ws)
    return get_job(ws, job.id)


def snapshot(ws: Workspace, job: Job | int, log_lines: int = LOG_LINES) -> Snapshot:
    """The snapshot of `job` (a Job or its id) as it stands now."""
    job = _fresh(ws, get_job(ws, job) if isinstance(job, int) else job)
    state = job_state(job)
    record = current_progress(job) if job.state == RUNNING else None
    if job.state == QUEUED:
        phase = WAITING
    elif job.state == RUNNING:
        phase = (record or {}).get("phase") or STARTING
    else:
        phase = ""
    done = total = rate = eta = None
    unit = ""
    if record is not None:
        done, total, unit = record.get("done"), record.get("total"), record.get("unit") or ""
        rate = record.get("rate")
        if record.get("eta_s") is not None and state == RUNNING:
            # the ETA counts down between records; it is never shown for a stopping job
            eta = max(record["eta_s"] - (time.time() - record.get("time", time.time())), 0.0)
    log = log_tail(job, log_lines) if log_lines > 0 else ""
    return Snapshot(job, state, phase, done, total, unit, rate, eta, log)


def latest_job(ws: Workspace, kind: str) -> Job | None:
    """The job a panel of `kind` shows by default: the newest running one, else the next queued
    one, else the newest."""
    jobs = list_jobs(ws, kind=kind, limit=50)
    running = [job for job in jobs if job.state == RUNNING]
    queued = [job for job in jobs if job.state == QUEUED]
    if running or queued:
        return running[0] if running else queued[-1]
    return jobs[0] if jobs else None
