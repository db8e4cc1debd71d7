"""Starting a training run: the config checked, written into a new run folder, the job queued."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.jobs.kinds import TRAIN, start_run
from studio.train.config import TrainConfig
from studio.train.preflight import preflight
from studio.train.worker import write_run_config

if TYPE_CHECKING:
    from studio.jobs import Job
    from studio.workspace import Workspace


def start_training(ws: Workspace, cfg: TrainConfig) -> Job:
    """Check `cfg`, write it into a new `runs/<stage>-*` folder (config.yaml) and queue the job."""
    preflight(ws, cfg)
    run_dir = ws.new_run_dir(cfg.stage, "+".join(cfg.dataset))
    write_run_config(run_dir, cfg)
    title = f"{cfg.stage.upper()} {cfg.model_name_or_path} on {', '.join(cfg.dataset)}"
    return start_run(ws, TRAIN, run_dir, title)
