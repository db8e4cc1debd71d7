"""Run folders as the studio shows them: training and evaluation runs with their job,
metrics and summary, rebuilt from the jobs table plus `runs/<id>/` (nothing kept in memory).

    runs = train_runs(ws)                    # newest first, one entry per run folder
    job = active_job(ws, "train")           # the queued or running job to re-attach to
    wrong = wrong_verdicts(eval_run_dir)     # questions a model got wrong, both SQLs and results
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.jobs import FINAL_STATES, Job, list_jobs
from studio.jobs.runtime import last_jsonl_record, read_jsonl

if TYPE_CHECKING:
    from studio.workspace import Workspace

TRAIN_KIND = "train"
EVAL_KIND = "eval"
SUMMARY_FILE = "summary.json"
VERDICTS_FILE = "verdicts.jsonl"
LOG_TAIL_BYTES = 32_768
MAX_JOBS_SCANNED = 1000


@dataclass(frozen=True)
class Run:
    """One run folder and the newest job that ran in it."""

    name: str
    run_dir: Path
    job: Job
    summary: dict[str, Any] | None
    last_metrics: dict[str, Any] | None

    @property
    def state(self) -> str:
        return self.job.state

    @property
    def config(self) -> dict[str, Any]:
        return self.job.config or {}


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary.json, or None when absent or unreadable (a run still going)."""
    try:
        data = json.loads((Path(run_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def runs_of_kind(ws: Workspace, kind: str) -> list[Run]:
    """Runs whose jobs have `kind`, newest first; a resumed run appears once, with its latest job."""
    seen: dict[Path, Run] = {}
    for job in list_jobs(ws, kind=kind, limit=MAX_JOBS_SCANNED):
        if job.run_dir in seen:
            continue
        seen[job.run_dir] = Run(
            job.run_dir.name,
            job.run_dir,
            job,
            read_summary(job.run_dir),
            last_jsonl_record(job.metrics_path),
        )
    return list(seen.values())


def train_runs(ws: Workspace) -> list[Run]:
    """Training runs (SFT and DPO), newest first."""
    return runs_of_kind(ws, TRAIN_KIND)


def eval_runs(ws: Workspace) -> list[Run]:
    """Evaluation runs, newest first."""
    return runs_of_kind(ws, EVAL_KIND)


def find_run(ws: Workspace, kind: str, name: str) -> Run:
    """The run called `name` (its folder name) among runs of `kind`; a StudioError when absent."""
    from studio.errors import StudioError

    for run in runs_of_kind(ws, kind):
        if run.name == name:
            return run
    raise StudioError(f"no {kind} run '{name}' in {ws.runs_dir}; pick one from the list of runs")


def active_job(ws: Workspace, kind: str) -> Job | None:
    """The newest queued or running job of `kind` (what a reopened page re-attaches to)."""
    for job in list_jobs(ws, kind=kind, limit=MAX_JOBS_SCANNED):
        if job.state not in FINAL_STATES:
            return job
    return None


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete record of the run's metrics.jsonl."""
    return read_jsonl(Path(run_dir) / "metrics.jsonl")


def log_tail(job: Job, lines: int = 30) -> str:
    """The last `lines` lines of this job's part of its log (progress-bar redraws collapsed)."""
    if job.log_offset is None or not job.log_path.exists():
        return ""
    with open(job.log_path, "rb") as handle:
        size = handle.seek(0, 2)
        start = max(job.log_offset, size - LOG_TAIL_BYTES)
        handle.seek(start)
        data = handle.read().decode("utf-8", errors="replace")
    shown = [line.rsplit("\r", 1)[-1] for line in data.split("\n")]
    if start > job.log_offset:
        shown = shown[1:]  # the first line may be cut by the seek
    return "\n".join(shown[-lines:]).rstrip("\n")


def adapter_choices(ws: Workspace) -> list[str]:
    """Adapter folders of finished training runs, newest first (for model stacks)."""
    choices = []
    for run in train_runs(ws):
        adapter = (run.summary or {}).get("adapter")
        if run.state == "succeeded" and adapter and Path(adapter).is_dir():
            choices.append(str(adapter))
    return choices


def wrong_verdicts(run_dir: Path) -> list[dict[str, Any]]:
    """The verdict rows of an evaluation run that are not correct, in question order."""
    return [row for row in read_jsonl(Path(run_dir) / VERDICTS_FILE) if not row.get("correct")]


def evaluation_folders(ws: Workspace) -> list[Path]:
    """Run folders holding a finished evaluation (summary.json with EX), newest first; this
    includes predictions scored without a job."""
    found = []
    for folder in ws.runs_dir.iterdir():
        summary = read_summary(folder) if folder.is_dir() else None
        if summary is not None and "ex" in summary:
            found.append(((folder / SUMMARY_FILE).stat().st_mtime, folder))
    return [folder for _, folder in sorted(found, key=lambda item: item[0], reverse=True)]


def adapter_folder(value: str) -> str:
    """The adapter folder for `value`: the folder itself, or `value/adapter` for a training run folder."""
    path = Path(value).expanduser().resolve()
    if (
        not (path / "adapter_config.json").is_file()
        and (path / "adapter" / "adapter_config.json").is_file()
    ):
        path = path / "adapter"
    return str(path)
