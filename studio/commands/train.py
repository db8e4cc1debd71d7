"""`python -m studio train`: validate a training YAML, start it as a job, follow or detach."""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.data.importers.demo import open_workspace
from studio.errors import StudioError

HELP = (
    "train a LoRA adapter (SFT, DPO or GRPO) from a LLaMA-Factory-style YAML config, as a "
    "background job"
)


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
    parser.add_argument(
        "--continue",
        dest="continue_run",
        metavar="RUN",
        help="start a new run (its own folder) from the adapter a succeeded RUN saved, with "
        "RUN's config and the --set overrides; RUN's adapter stays as it is",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from studio.jobs import exit_code, follow_in_terminal
    from studio.jobs.kinds import TRAIN, resume_run
    from studio.train.config import load_config
    from studio.train.continuation import continuation_config
    from studio.train.key_report import report_lines
    from studio.train.preflight import preflight
    from studio.train.start import start_training

    ws = open_workspace(args.workspace)
    given = [args.config is not None, bool(args.resume), bool(args.continue_run)]
    if sum(given) > 1:
        raise StudioError("give one of CONFIG, --resume RUN and --continue RUN")
    if args.resume:
        job, point = resume_run(ws, args.resume, TRAIN)
        if point is not None:
            print("\n".join(point.report()), flush=True)
    else:
        if not any(given):
            raise StudioError(
                "give a training config (e.g. configs/demo_sft.yaml), --resume RUN or "
                "--continue RUN"
            )
        if args.continue_run:
            cfg = continuation_config(ws, args.continue_run, args.overrides)
            print(
                f"continuing {args.continue_run} as a new run from "
                f"{', '.join(cfg.adapter_name_or_path)}",
                flush=True,
            )
        else:
            cfg = load_config(args.config, args.overrides)
        for line in report_lines(cfg):
            print(line, flush=True)
        if args.check:
            preflight(ws, cfg)
            source = args.config or args.continue_run
            print(
                f"{source}: valid ({cfg.stage}, {cfg.model_name_or_path}, "
                f"datasets {', '.join(cfg.dataset)})"
            )
            return 0
        job = start_training(ws, cfg)
    print(f"job {job.id} queued: {job.run_dir}", flush=True)
    if args.detach:
        return 0
    return exit_code(follow_in_terminal(ws, job.id))
