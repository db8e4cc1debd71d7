"""The job system: every long task (training, pair generation, evaluation) runs as one
subprocess with its own run folder, queued in the workspace's studio.db and watched by
a supervisor thread. See docs/JOBS.md.

    job = submit(ws, "sft", [sys.executable, "-m", "studio.train.worker", str(run_dir)], run_dir)
    job = wait(ws, job.id, on_log=print)

Worker-side helpers (cancellation flag, status.json, JSONL metrics) are in `studio.jobs.runtime`.
"""

from studio.jobs.daemon import daemon_pid, ensure_background_supervisor, run_daemon
from studio.jobs.follow import LogFollower, exit_code, follow_in_terminal, log_lines, wait
from studio.jobs.model import (
    CANCELLED,
    FAILED,
    FINAL_STATES,
    QUEUED,
    RUNNING,
    STATES,
    SUCCEEDED,
    Job,
)
from studio.jobs.store import cancel, get_job, list_jobs, resubmit, submit
from studio.jobs.supervisor import Supervisor, final_outcome, reconcile, supervisor_alive

__all__ = [
    "CANCELLED",
    "FAILED",
    "FINAL_STATES",
    "QUEUED",
    "RUNNING",
    "STATES",
    "SUCCEEDED",
    "Job",
    "LogFollower",
    "Supervisor",
    "cancel",
    "daemon_pid",
    "ensure_background_supervisor",
    "exit_code",
    "final_outcome",
    "follow_in_terminal",
    "get_job",
    "list_jobs",
    "log_lines",
    "reconcile",
    "resubmit",
    "run_daemon",
    "submit",
    "supervisor_alive",
    "wait",
]
