"""Run folders as the studio shows them: training and evaluation runs with their job,
metrics and summary, rebuilt from the jobs table plus `runs/<id>/` (nothing kept in memory).

    runs = train_runs(ws)                    # newest first, one entry per run folder
    job = active_job(ws, TRAIN_KIND)        # the queued or running job to re-attach to
    run_dir = find_run_dir(ws, "sft-2025...")  # what a user typed: a run's name or a folder
    adapters = list_adapters(ws)             # the LoRA folders every form offers
    wrong = wrong_verdicts(eval_run_dir)     # questions a model got wrong, both SQLs and results
    delete_run(ws, "sft-2025...")            # a finished run's folder and its jobs, gone
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.jobs import FINAL_STATES, SUCCEEDED, Job, list_jobs
from studio.jobs.model import EVAL_KIND, TRAIN_KIND
from studio.jobs.rundir import ADAPTER_CONFIG, ADAPTER_DIR, RunDir, adapter_label
from studio.jobs.runtime import last_jsonl_record, read_jsonl

if TYPE_CHECKING:
    from studio.workspace import Workspace

LOG_TAIL_BYTES = 32_768
MAX_JOBS_SCANNED = 1000
CHOICES_SHOWN = 10


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
        """The config stored in the run folder ({} when it has none)."""
        return RunDir(self.run_dir).read_config() or {}


def runs_of_kind(ws: Workspace, kind: str) -> list[Run]:
    """Runs whose jobs have `kind`, newest first; a resumed run appears once, with its latest
    job."""
    seen: dict[Path, Run] = {}
    for job in list_jobs(ws, kind=kind, limit=MAX_JOBS_SCANNED):
        if job.run_dir in seen:
            continue
        run = RunDir(job.run_dir)
        seen[job.run_dir] = Run(
            run.name, job.run_dir, job, run.read_summary(), last_jsonl_record(run.metrics)
        )
    return list(seen.values())


def train_runs(ws: Workspace) -> list[Run]:
    """Training runs (SFT and DPO), newest first."""
    return runs_of_kind(ws, TRAIN_KIND)


def eval_runs(ws: Workspace) -> list[Run]:
    """Evaluation runs, newest first."""
    return runs_of_kind(ws, EVAL_KIND)


def jobs_in(ws: Workspace, run_dir: Path) -> list[Job]:
    """The jobs that ran in `run_dir`, newest first."""
    return [job for job in list_jobs(ws, limit=MAX_JOBS_SCANNED) if job.run_dir == run_dir]


def _choices(what: str, names: list[str]) -> str:
    if not names:
        return f"there are no {what} yet"
    more = len(names) - CHOICES_SHOWN
    return f"{what}: {', '.join(names[:CHOICES_SHOWN])}" + (f" and {more} more" if more > 0 else "")


def find_run_dir(ws: Workspace, value: str, kind: str | None = None) -> Path:
    """The run folder `value` names: a folder (a run's `adapter/` stands for its run), else a
    run's name under runs/. A StudioError names the runs of `kind` (every run when None)."""
    path = Path(value).expanduser()
    if not path.is_dir():
        path = ws.runs_dir / value
    if path.is_dir():
        path = path.resolve()
        if path.name == ADAPTER_DIR and RunDir(path.parent).config is not None:
            return path.parent
        return path
    jobs = list_jobs(ws, kind=kind, limit=MAX_JOBS_SCANNED)
    names = list(dict.fromkeys(job.run_dir.name for job in jobs))
    raise StudioError(
        f"run '{value}' not found (neither a folder nor a run's name under {ws.runs_dir}); "
        + _choices(f"{kind} runs" if kind else "runs", names)
    )


def find_run(ws: Workspace, kind: str, value: str) -> Run:
    """The run of `kind` that `value` names (see `find_run_dir`); a StudioError when no job of
    that kind ran there."""
    run_dir = find_run_dir(ws, value, kind)
    for run in runs_of_kind(ws, kind):
        if run.run_dir == run_dir:
            return run
    raise StudioError(
        f"no {kind} job ran in {run_dir}; "
        + _choices(f"{kind} runs", [run.name for run in runs_of_kind(ws, kind)])
    )


def list_adapters(ws: Workspace) -> list[str]:
    """The LoRA adapter folders to offer: those succeeded training runs saved, newest run first,
    then the `runs/<name>/adapter/` of folders no job ran in (e.g. copied in), newest first."""
    runs = train_runs(ws)
    found = [
        adapter
        for run in runs
        if run.state == SUCCEEDED and (adapter := RunDir(run.run_dir).saved_adapter()) is not None
    ]
    tracked = {run.run_dir for run in runs}
    others = [config.parent for config in ws.runs_dir.glob(f"*/{ADAPTER_DIR}/{ADAPTER_CONFIG}")]
    found += sorted(
        (folder for folder in others if folder.parent not in tracked),
        key=lambda folder: folder.stat().st_mtime,
        reverse=True,
    )
    return [str(folder) for folder in found]


def adapter_folder(ws: Workspace, value: str) -> str:
    """The adapter folder `value` names: an adapter folder, or a training run (by folder or
    name) that saved one. A folder holding no adapter is returned as it is (the adapter checks
    say what it lacks); a value naming nothing is a StudioError listing the adapters."""
    path = Path(value).expanduser()
    if (path / ADAPTER_CONFIG).is_file():
        return str(path.resolve())
    try:
        run_dir = find_run_dir(ws, value)
    except StudioError:
        names = [adapter_label(adapter) for adapter in list_adapters(ws)]
        raise StudioError(
            f"adapter '{value}' not found (neither a folder nor a run's name under "
            f"{ws.runs_dir}); " + _choices("adapters", names)
        ) from None
    return str(RunDir(run_dir).saved_adapter() or run_dir)


def active_job(ws: Workspace, kind: str) -> Job | None:
    """The newest queued or running job of `kind` (what a reopened page re-attaches to)."""
    for job in list_jobs(ws, kind=kind, limit=MAX_JOBS_SCANNED):
        if job.state not in FINAL_STATES:
            return job
    return None


def delete_run(ws: Workspace, run: str) -> Path:
    """Delete a finished run: its folder under runs/ and its jobs' rows; return the folder.

    A run with a queued or running job is refused (cancel it first), and so is a folder outside
    the workspace's runs/. Pairs a mining run stored stay in the workspace's pair store.
    """
    from studio.jobs.store import session
    from studio.workspace import immediate

    run_dir = find_run_dir(ws, run)
    if run_dir.parent != ws.runs_dir.resolve():
        raise StudioError(
            f"{run_dir} is not a run folder under {ws.runs_dir}; only the workspace's runs "
            "are deleted here (remove other folders yourself)"
        )
    with session(ws) as conn, immediate(conn):
        rows = conn.execute(
            "SELECT id, state FROM jobs WHERE run_dir = ?", (str(run_dir),)
        ).fetchall()
        live = [row["id"] for row in rows if row["state"] not in FINAL_STATES]
        if live:
            raise StudioError(
                f"run {run_dir.name} still has job {live[0]} queued or running; cancel it "
                f"(`python -m studio jobs cancel {live[0]}`) and delete the run once it stopped"
            )
        ids = [row["id"] for row in rows]
        marks = ", ".join("?" for _ in ids)
        if ids:
            conn.execute(
                f"UPDATE jobs SET resumed_from = NULL WHERE resumed_from IN ({marks})", ids
            )
            conn.execute(f"DELETE FROM jobs WHERE id IN ({marks})", ids)
        shutil.rmtree(run_dir)
    return run_dir


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete record of the run's metrics.jsonl."""
    return read_jsonl(RunDir(run_dir).metrics)


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


def wrong_verdicts(run_dir: Path) -> list[dict[str, Any]]:
    """The verdict rows of an evaluation run that are not correct, in question order."""
    return [row for row in read_jsonl(RunDir(run_dir).verdicts) if not row.get("correct")]


def evaluation_folders(ws: Workspace) -> list[Path]:
    """Run folders holding a finished evaluation (summary.json with EX), newest first; this
    includes predictions scored without a job."""
    found = []
    for folder in ws.runs_dir.iterdir():
        run = RunDir(folder)
        summary = run.read_summary() if folder.is_dir() else None
        if summary is not None and "ex" in summary:
            found.append((run.summary.stat().st_mtime, folder))
    return [folder for _, folder in sorted(found, key=lambda item: item[0], reverse=True)]
