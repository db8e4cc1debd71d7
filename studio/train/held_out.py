"""GRPO's checkpoint selection: the saved state whose held-out questions scored best.

With `val_size`, each evaluation answers the held-out questions greedily (studio.train.rollout)
and logs the share it got right as `eval_grpo/correct` in metrics.jsonl. The run's summary
names the best of the evaluated states that were saved (a `checkpoint-N` folder, the final
adapter for the last step, or with `eval_on_start` the starting adapter for step 0), the
earliest of equals; `python -m studio eval` measures it on the test set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.jobs.rundir import checkpoint_step

HELD_OUT_METRIC = "eval_grpo/correct"


def saved_states(
    run_dir: Path, final: tuple[int, Path] | None = None, start: Path | None = None
) -> dict[int, Path]:
    """Step -> folder for every `checkpoint-N` of the run, the final adapter at its step, and
    the adapter the run started from at step 0 (`start`)."""
    states = {
        step: path
        for path in run_dir.iterdir()
        if path.is_dir() and (step := checkpoint_step(path)) is not None
    }
    if final is not None:
        states.setdefault(*final)
    if start is not None:
        states.setdefault(0, start)
    return states


def best_held_out(metrics_path: Path, saved: Mapping[int, Path]) -> dict[str, Any] | None:
    """The best evaluation of a saved state: metric, value, step and the state's folder (None
    when no saved step was evaluated)."""
    if not metrics_path.exists():
        return None
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    scored = [
        (r[HELD_OUT_METRIC], r["step"])
        for r in records
        if r.get(HELD_OUT_METRIC) is not None and r["step"] in saved
    ]
    if not scored:
        return None
    value, step = max(scored, key=lambda pair: (pair[0], -pair[1]))
    return {"metric": HELD_OUT_METRIC, "value": value, "step": step, "path": str(saved[step])}
