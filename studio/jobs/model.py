"""The `Job` record: one row of the workspace's `jobs` table."""

from __future__ import annotations

import datetime
import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from studio.jobs.rundir import RunDir

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)
# the jobs table's kind of each job (studio.jobs.kinds describes each)
TRAIN_KIND, MINE_KIND, EVAL_KIND = "train", "pairs", "eval"


@dataclass(frozen=True)
class Job:
    """A job: one subprocess (`argv`, run in `cwd`) with its run folder `run_dir`.

    Times are Unix seconds. `exit_code` is the process's exit status when the supervisor
    that started it saw it end (negative: killed by that signal), else None. `owner` is
    the supervising process ("pid:start_time"); `log_offset` is where this job's output
    starts in `<run_dir>/log` (a resumed job appends to its predecessor's log).
    """

    id: int
    kind: str
    title: str
    state: str
    argv: list[str]
    run_dir: Path
    cwd: str
    uses_gpu: bool
    config: dict[str, Any] | None
    pid: int | None
    pid_start_time: int | None
    exit_code: int | None
    error: str | None
    cancel_requested: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    resumed_from: int | None
    owner: str | None
    term_sent_at: float | None
    log_offset: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        values = dict(row)
        values["argv"] = json.loads(values["argv"])
        values["config"] = json.loads(values["config"]) if values["config"] is not None else None
        values["run_dir"] = Path(values["run_dir"])
        values["uses_gpu"] = bool(values["uses_gpu"])
        values["cancel_requested"] = bool(values["cancel_requested"])
        return cls(**values)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def log_path(self) -> Path:
        return RunDir(self.run_dir).log

    @property
    def metrics_path(self) -> Path:
        return RunDir(self.run_dir).metrics

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return round(end - self.started_at, 3)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form with ISO-8601 local times."""
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["log"] = str(self.log_path)
        for key in ("created_at", "started_at", "finished_at", "term_sent_at"):
            if data[key] is not None:
                data[key] = datetime.datetime.fromtimestamp(data[key]).isoformat(timespec="seconds")
        data["duration_s"] = self.duration_s
        return data
