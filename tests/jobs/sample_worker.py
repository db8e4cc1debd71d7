"""A small job worker for the job-system tests: `python sample_worker.py MODE RUN_DIR [ARG]`.

Modes: succeed, studio-error, crash, loop (until run_dir/release appears or cancel;
on cancel it writes run_dir/checkpoint; with `--resume` it continues from it),
stubborn (ignores cancel), record (appends "job_id pid" to the file ARG), progress (reports
"loading the model" until run_dir/go appears, then "generating" 2 of 4 until release or cancel).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from studio.errors import StudioError
from studio.jobs.runtime import (
    GENERATING,
    LOADING,
    ProgressWriter,
    append_jsonl,
    cancel_requested,
    run_worker,
)


def main(mode: str, run_dir: Path, extra: list[str]) -> None:
    if mode == "succeed":
        print("hello from the worker")
        for step in range(3):
            append_jsonl(run_dir / "metrics.jsonl", {"step": step, "loss": 1.0 / (step + 1)})
        print("done")
    elif mode == "studio-error":
        raise StudioError("dataset 'demo' has no rows: add rows to datasets/demo.json")
    elif mode == "crash":
        raise ValueError("boom")
    elif mode == "loop":
        loop(run_dir, resume="--resume" in extra)
    elif mode == "stubborn":
        (run_dir / "started").touch()
        while True:
            time.sleep(0.05)
    elif mode == "progress":
        progress(run_dir)
    elif mode == "record":
        with open(extra[0], "a") as handle:
            handle.write(f"{os.environ['STUDIO_JOB_ID']} {os.getpid()}\n")
    else:
        raise StudioError(f"unknown mode {mode!r}")


def loop(run_dir: Path, resume: bool) -> None:
    step = 0
    if resume:
        step = int((run_dir / "checkpoint").read_text())
        print(f"resuming from step {step}")
        return
    (run_dir / "started").touch()
    print("looping", flush=True)
    while not (run_dir / "release").exists():
        if cancel_requested():
            (run_dir / "checkpoint").write_text(str(step))
            print(f"saved checkpoint at step {step}")
            return
        step += 1
        time.sleep(0.02)
    print("released")


def wait_for(path: Path) -> bool:
    """Sleep until `path` exists (True) or cancel is asked (False)."""
    while not path.exists():
        if cancel_requested():
            return False
        time.sleep(0.02)
    return True


def progress(run_dir: Path) -> None:
    writer = ProgressWriter(run_dir, interval_s=0.0)
    writer.phase(LOADING)
    if not wait_for(run_dir / "go"):
        return
    writer.phase(GENERATING, total=4, unit="questions")
    time.sleep(0.05)
    writer.advance(1)
    time.sleep(0.05)
    writer.advance(2)
    (run_dir / "halfway").touch()
    if not wait_for(run_dir / "release"):
        while not (run_dir / "stop").exists():  # a worker saving before it stops
            time.sleep(0.02)
        return
    writer.advance(4)


if __name__ == "__main__":
    mode, run_dir, *rest = sys.argv[1:]
    raise SystemExit(run_worker(Path(run_dir), lambda: main(mode, Path(run_dir), rest)))
