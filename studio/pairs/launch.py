"""Mining as a job: check the settings, write them into a new run folder (config.json) and queue
the job. The CLI and the UI both call this; `studio.jobs.kinds.resume_run` continues a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.data.registry import get_dataset
from studio.jobs.kinds import MINE, start_run
from studio.pairs.config import MiningConfig, write_config

if TYPE_CHECKING:
    from studio.jobs import Job
    from studio.workspace import Workspace


def start_mining(ws: Workspace, config: MiningConfig) -> Job:
    """Create `runs/pairs-*/` with config.json and queue the mining job."""
    get_dataset(ws, config.dataset)
    run_dir = ws.new_run_dir(MINE.name, config.dataset)
    write_config(run_dir, config)
    title = f"pairs ({config.strategy}, n={config.n}) {config.model} on {config.dataset}"
    return start_run(ws, MINE, run_dir, title)
