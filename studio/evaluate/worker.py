"""The evaluation job body: `python -m studio.evaluate.worker RUN_DIR`.

RUN_DIR holds config.json (written by `submit_evaluation`: mode "generate", the workspace
and the EvalConfig fields). The worker runs the evaluation under `run_worker`, streams
its phase and count to RUN_DIR/progress.jsonl, each saved batch to RUN_DIR/metrics.jsonl
({"phase", "done", "total", "questions_per_s", ...}) and a plain line per batch to its log,
and stops after the current batch when cancelled (the predictions so far stay; resubmitting
the job continues them).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.evaluate.report import format_p
from studio.evaluate.rundir import read_run_config
from studio.jobs.rundir import RunDir
from studio.jobs.runtime import (
    GENERATING,
    LOADING,
    SCORING,
    ProgressWriter,
    append_jsonl,
    cancel_requested,
    run_worker,
)

PHASES = {"loading": LOADING, "generation": GENERATING, "scoring": SCORING}


def _progress_writer(run_dir: Path) -> Callable[[dict[str, Any]], None]:
    """Each record to progress.jsonl; saved batches and scoring also to metrics.jsonl and the
    log."""
    metrics = RunDir(run_dir).metrics
    progress = ProgressWriter(run_dir)

    def write(record: dict[str, Any]) -> None:
        phase = PHASES.get(record["phase"], record["phase"])
        if phase != progress.name:
            progress.phase(phase, total=record["total"], unit="questions", done=record["done"])
        else:
            progress.advance(record["done"])
        if record.get("partial") or record["phase"] == "loading":
            return
        append_jsonl(metrics, {**record, "time": round(time.time(), 3)})
        rate = f" ({record['questions_per_s']:.2f} q/s)" if "questions_per_s" in record else ""
        print(f"{record['phase']}: {record['done']}/{record['total']}{rate}", flush=True)

    return write


def evaluate_run_dir(run_dir: Path) -> None:
    """Run the evaluation configured in `run_dir`/config.json (the job's main)."""
    from studio.evaluate.run import EvalConfig, run_evaluation

    run = RunDir(run_dir)
    data = read_run_config(run_dir)
    if data is None or data.get("mode") != "generate" or not data.get("workspace"):
        raise StudioError(
            f"{run.settings_config} is missing or is not a generation run's config; "
            "start evaluations with `python -m studio eval --model ... --dataset ...`"
        )
    config = EvalConfig.from_dict(data, str(run.settings_config))
    ws = run.workspace()
    print(
        f"evaluating {config.model} {list(config.adapters) or ''} on {config.dataset}", flush=True
    )
    summary = run_evaluation(
        ws,
        config,
        run_dir,
        progress=_progress_writer(run_dir),
        bars=False,
        should_stop=cancel_requested,
    )
    if summary.get("stopped"):
        sampled = f", {summary['sampled']} sampled" if "sampled" in summary else ""
        print(
            f"stopped after {summary['predicted']}/{summary['total']} predictions{sampled}",
            flush=True,
        )
        return
    append_jsonl(
        run.metrics,
        {
            "phase": "done",
            "done": summary["n"],
            "total": summary["n"],
            "ex": summary["ex"],
            **({"ex_voted": summary["vote"]["ex"]} if "vote" in summary else {}),
            "time": round(time.time(), 3),
        },
    )
    print(
        f"EX {summary['ex']:.2f}% on {summary['n']} questions "
        f"(95% CI {summary['ex_ci95'][0]:.2f}-{summary['ex_ci95'][1]:.2f})",
        flush=True,
    )
    vote = summary.get("vote")
    if vote is not None:
        paired = vote["vs_greedy"]
        print(
            f"EX voted over {vote['samples']} samples {vote['ex']:.2f}% "
            f"({paired['difference']:+.2f} points on greedy, paired 95% CI "
            f"{paired['ci95'][0]:.2f} to {paired['ci95'][1]:.2f}, "
            f"McNemar p {format_p(paired['mcnemar_p'])})",
            flush=True,
        )
    print(json.dumps(summary["categories"]), flush=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m studio.evaluate.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0]).resolve()
    return run_worker(run_dir, lambda: evaluate_run_dir(run_dir))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
