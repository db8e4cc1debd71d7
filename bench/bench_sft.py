"""SFT throughput of the studio's training path: a config for a few steps, one JSON line.

    python bench/bench_sft.py configs/spiderman_sft.yaml --steps 60 [--set KEY=VALUE ...]
                              [--workspace DIR]
    python bench/bench_sft.py configs/spiderman_sft.yaml --steps 20 --profile 40

Runs `studio.train.worker.train` in this process on a fresh run folder of the workspace
(`$STUDIO_WORKSPACE` or ./workspace; the config's datasets must be registered there),
`max_steps` = --steps, no checkpoint, and prints the non-padding tokens/s over the steps after
the first logged one (warm-up), seconds per step, the attention kernel and peak GPU memory.
With --profile TOP, the last step runs under torch.profiler (and is left out of the figures):
a second line holds its TOP operators by device time (bench/step_profile.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from step_profile import LastStepProfile

from studio.data.importers.demo import open_workspace
from studio.jobs.rundir import RunDir
from studio.train.config import load_config
from studio.train.worker import train, write_run_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--workspace", type=Path, default=Path(os.environ.get("STUDIO_WORKSPACE", "workspace"))
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TOP",
        help="profile the last step (left out of the figures), print its TOP operators",
    )
    args = parser.parse_args()
    if args.steps < (3 if args.profile else 2):
        parser.error("--steps must be >= 2 (>= 3 with --profile)")
    import torch

    cfg = load_config(
        args.config,
        [
            *args.overrides,
            f"max_steps={args.steps}",
            "logging_steps=1",
            f"save_steps={args.steps + 1}",
        ],
    )
    ws = open_workspace(args.workspace)
    run_dir = ws.new_run_dir("bench-sft")
    write_run_config(run_dir, cfg)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    profile = LastStepProfile(args.profile, device) if args.profile else None
    train(run_dir, extra_callbacks=[profile] if profile else [])
    metrics = [json.loads(line) for line in RunDir(run_dir).metrics.read_text().splitlines()]
    steps = [m for m in metrics if "loss" in m]
    if profile:
        steps = steps[:-1]
    first, last = steps[0], steps[-1]
    seconds = last["elapsed_s"] - first["elapsed_s"]
    print(
        json.dumps(
            {
                "figure": "sft_throughput",
                "config": str(args.config),
                "overrides": args.overrides,
                "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                "attn_implementation": cfg.attn_implementation,
                "packing": cfg.packing,
                "steps_timed": last["step"] - first["step"],
                "tokens_per_s": round((last["tokens_seen"] - first["tokens_seen"]) / seconds, 1),
                "s_per_step": round(seconds / (last["step"] - first["step"]), 4),
                "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
                if torch.cuda.is_available()
                else None,
                "last_loss": last["loss"],
            }
        ),
        flush=True,
    )
    if profile:
        print(
            json.dumps(
                {
                    "figure": "sft_profile",
                    "config": str(args.config),
                    "overrides": args.overrides,
                    "top": profile.table,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
