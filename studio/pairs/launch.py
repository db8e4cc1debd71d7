"""Mining as a job: start a run (a folder with config.json, queued through the jobs API) or
continue one. The CLI and the UI both call these."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from studio.data.registry import get_dataset
from studio.errors import StudioError
from studio.pairs.config import MiningConfig, write_config

if TYPE_CHECKING:
    from studio.jobs import Job
    from studio.workspace import Workspace

JOB_KIND = "pairs"


def worker_argv(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "studio.pairs.worker", str(run_dir)]


def start_mining(ws: Workspace, config: MiningConfig) -> Job:
    """Create `runs/pairs-*/` with config.json and queue the mining job."""
    from studio.jobs import ensure_background_supervisor, submit

    get_dataset(ws, config.dataset)
    run_dir = ws.new_run_dir(JOB_KIND)
    write_config(run_dir, config)
    title = f"pairs ({config.strategy}, n={config.n}) {config.model} on {config.dataset}"
    job = submit(ws, JOB_KIND, worker_argv(run_dir), run_dir, title=title, config=config.to_dict())
    ensure_background_supervisor(ws)
    return job


def find_run_dir(ws: Workspace, run: str) -> Path:
    """A mining run folder by path or by name under runs/."""
    run_dir = Path(run) if Path(run).is_dir() else ws.runs_dir / run
    if not (run_dir / "config.json").is_file():
        raise StudioError(
            f"mining run '{run}' not found (no config.json in {run_dir}); "
            f"`python -m studio jobs list --kind {JOB_KIND}` shows the runs"
        )
    return run_dir.resolve()


def resume_mining(ws: Workspace, run: str) -> Job:
    """Queue a finished (cancelled, failed or killed) mining run again; it continues with the
    questions that have no candidates yet."""
    from studio.jobs import ensure_background_supervisor, list_jobs, resubmit, submit

    run_dir = find_run_dir(ws, run)
    previous = [job for job in list_jobs(ws, kind=JOB_KIND, limit=1000) if job.run_dir == run_dir]
    if previous:
        if not previous[0].finished:
            raise StudioError(
                f"mining run {run_dir.name} is still {previous[0].state} as job {previous[0].id}; "
                f"wait for it or cancel it (`python -m studio jobs cancel {previous[0].id}`)"
            )
        job = resubmit(ws, previous[0].id)
    else:
        job = submit(
            ws, JOB_KIND, worker_argv(run_dir), run_dir, title=f"pairs (resumed) {run_dir.name}"
        )
    ensure_background_supervisor(ws)
    return job
