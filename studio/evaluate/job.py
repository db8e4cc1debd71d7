"""Evaluation as a job: the run folder and config.json written here, the work done by
`python -m studio.evaluate.worker RUN_DIR` under the job supervisor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.evaluate.run import EvalConfig, select_examples
from studio.evaluate.rundir import prepare_run_dir
from studio.evaluate.scoring import database_refs
from studio.jobs.kinds import EVAL, start_run

if TYPE_CHECKING:
    from studio.jobs import Job
    from studio.workspace import Workspace


def submit_evaluation(ws: Workspace, config: EvalConfig, out_dir: str | Path | None = None) -> Job:
    """Check the dataset, write the run's config.json and queue the evaluation job (a GPU job);
    a background supervisor is started when none is alive. The CLI and the UI call this."""
    examples = select_examples(ws, config.dataset, config.limit)
    database_refs(ws, config.dataset, examples)
    run_dir = prepare_run_dir(ws, out_dir, {"mode": "generate", **config.to_dict()})
    title = f"EX {config.model}" + (
        f" + {len(config.adapters)} adapter(s)" if config.adapters else ""
    )
    return start_run(ws, EVAL, run_dir, f"{title} on {config.dataset}")
