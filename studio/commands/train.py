"""`python -m studio train`: validate a training YAML, start it as a job, follow or detach."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from studio.data.importers.demo import open_workspace
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.jobs import Job
    from studio.train.config import TrainConfig
    from studio.train.resume import ResumePoint
    from studio.workspace import Workspace

HELP = (
    "train a LoRA adapter (SFT or DPO) from a LLaMA-Factory-style YAML config, as a background job"
)
JOB_KIND = "train"


def keys_help() -> str:
    """The config keys with what each accepts (from studio/train/keys.py), for --help."""
    from studio.train.keys import KEYS

    width = max(len(key.name) for key in KEYS) + 2
    lines = [
        "config keys (YAML or --set KEY=VALUE; details: docs/TRAINING.md; LLaMA-Factory's other",
        "keys are accepted with their fate, docs/INTEROP.md):",
    ]
    lines += [f"  {key.name:<{width}}{key.accepts}" for key in KEYS]
    return "\n".join(lines)


def register(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = keys_help()
    parser.add_argument(
        "config", nargs="?", type=Path, help="training YAML (see configs/ and docs/TRAINING.md)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable), e.g. --set learning_rate=1e-4; the keys are "
        "listed below",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the config, model, adapters and datasets without loading "
        "weights; train nothing",
    )
    parser.add_argument("--detach", action="store_true", help="print the job id and return at once")
    parser.add_argument(
        "--resume",
        metavar="RUN",
        help="continue a cancelled or failed run (folder or name under "
        "runs/) from its newest complete checkpoint, instead of starting CONFIG",
    )
    parser.set_defaults(func=run)


def start_training(ws: Workspace, cfg: TrainConfig) -> Job:
    """Create the run folder (config.yaml in it) and queue the training job; the UI calls this too."""
    from studio.jobs import ensure_background_supervisor, submit
    from studio.train.launch import worker_argv
    from studio.train.preflight import preflight
    from studio.train.worker import write_run_config

    preflight(ws, cfg)
    run_dir = ws.new_run_dir(cfg.stage)
    write_run_config(run_dir, cfg)
    title = f"{cfg.stage.upper()} {cfg.model_name_or_path} on {', '.join(cfg.dataset)}"
    job = submit(
        ws, JOB_KIND, worker_argv(run_dir, cfg), run_dir, title=title, config=cfg.to_dict()
    )
    ensure_background_supervisor(ws)
    return job


def resume_training(ws: Workspace, run: str) -> tuple[Job, ResumePoint]:
    """Queue a run again with `--resume`; the job and the checkpoint it continues from (the
    newest complete one; the UI calls this too)."""
    from studio.jobs import ensure_background_supervisor, list_jobs, resubmit
    from studio.train.resume import find_resume_point

    run_dir = Path(run) if Path(run).is_dir() else ws.runs_dir / run
    if not run_dir.is_dir():
        raise StudioError(
            f"run '{run}' not found (neither a folder nor a name under {ws.runs_dir})"
        )
    run_dir = run_dir.resolve()
    point = find_resume_point(run_dir)
    previous = [job for job in list_jobs(ws, kind=JOB_KIND, limit=1000) if job.run_dir == run_dir]
    if not previous:
        raise StudioError(
            f"no training job ran in {run_dir}; start it with `python -m studio train CONFIG`"
        )
    job = resubmit(ws, previous[0].id, ["--resume"])
    ensure_background_supervisor(ws)
    return job, point


def run(args: argparse.Namespace) -> int:
    from studio.jobs import exit_code, follow_in_terminal
    from studio.train.config import load_config
    from studio.train.key_report import report_lines
    from studio.train.preflight import preflight

    ws = open_workspace(args.workspace)
    if args.resume:
        job, point = resume_training(ws, args.resume)
        print("\n".join(point.report()), flush=True)
    else:
        if args.config is None:
            raise StudioError("give a training config (e.g. configs/demo_sft.yaml) or --resume RUN")
        cfg = load_config(args.config, args.overrides)
        for line in report_lines(cfg):
            print(line, flush=True)
        if args.check:
            preflight(ws, cfg)
            print(
                f"{args.config}: valid ({cfg.stage}, {cfg.model_name_or_path}, "
                f"datasets {', '.join(cfg.dataset)})"
            )
            return 0
        job = start_training(ws, cfg)
    print(f"job {job.id} queued: {job.run_dir}", flush=True)
    if args.detach:
        return 0
    return exit_code(follow_in_terminal(ws, job.id))
