"""`python -m studio eval`: execution accuracy of a model on a dataset, scoring of a predictions
file, and comparison of runs.

    eval --dataset NAME [--model REF] [--adapter DIR ...] [--limit N] [--out DIR] [--detach] ...
    eval --dataset NAME ... --vote N [--vote-temperature T]    (greedy and voted EX side by side)
    eval --dataset NAME --predictions FILE [--out DIR]
    eval --compare RUN [RUN ...] [--json]

Generation runs as a job (followed until it ends unless --detach); scoring a file and
comparing run in this process. The JSON summary (`ex` in %) goes to stdout, logs and
progress bars to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.data.importers.demo import open_workspace
from studio.errors import StudioError
from studio.inference.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_ENGINE,
    DEFAULT_MAX_NEW_TOKENS,
    ENGINE_HELP,
    ENGINES,
)
from studio.inference.voting import DEFAULT_VOTE_TEMPERATURE

HELP = (
    "execution accuracy: evaluate a model (+ adapters) on a dataset, score a predictions file, "
    "compare runs"
)
GENERATION_DEFAULTS = {
    "model": None,
    "adapters": [],
    "limit": None,
    "batch_size": DEFAULT_BATCH_SIZE,
    "max_new_tokens": DEFAULT_MAX_NEW_TOKENS,
    "engine": DEFAULT_ENGINE,
    "no_merge": False,
    "detach": False,
    "vote": 0,
    "vote_temperature": DEFAULT_VOTE_TEMPERATURE,
}
OPTION_NAMES = {"adapters": "--adapter"}


def register(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "modes:\n"
        "  generate  --dataset NAME [--model REF] [--adapter DIR ...]   (runs as a job)\n"
        "  score     --dataset NAME --predictions FILE                  "
        "(JSONL: question_id or index, sql)\n"
        "  compare   --compare RUN [RUN ...]                            "
        "(run folders or names under runs/)"
    )
    parser.add_argument("--dataset", metavar="NAME", help="registered dataset to evaluate on")
    parser.add_argument(
        "--model",
        metavar="REF",
        default=None,
        help="model reference (default: the built-in model): builtin:NAME, HF folder or .gguf",
    )
    parser.add_argument(
        "--adapter",
        dest="adapters",
        action="append",
        default=[],
        metavar="DIR",
        help="LoRA adapter folder, or a training run (folder or name) that saved one; "
        "repeat to stack",
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="only the first N questions of the dataset"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="run folder (default: a new runs/eval-*); an existing run "
        "of the same dataset and model is continued",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=GENERATION_DEFAULTS["batch_size"],
        metavar="N",
        help="generation batch size (default %(default)s)",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=GENERATION_DEFAULTS["max_new_tokens"],
        metavar="N",
        help="longest answer in tokens (default %(default)s)",
    )
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help=ENGINE_HELP)
    parser.add_argument(
        "--vote",
        type=int,
        default=0,
        metavar="N",
        help="also sample N answers per question, execute them and answer with the result most "
        "agree on (ties by likelihood); EX greedy and voted are reported side by side",
    )
    parser.add_argument(
        "--vote-temperature",
        type=float,
        default=DEFAULT_VOTE_TEMPERATURE,
        metavar="T",
        help="sampling temperature of the voted answers (default %(default)s)",
    )
    parser.add_argument(
        "--no-merge", action="store_true", help="keep adapters unmerged (slower, same result)"
    )
    parser.add_argument(
        "--detach", action="store_true", help="queue the job, print its id and run folder, return"
    )
    parser.add_argument(
        "--predictions",
        metavar="FILE",
        type=Path,
        help=(
            "score this JSONL file instead of generating (question_id or index, and sql, per line)"
        ),
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="scoring processes (default: one per CPU)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="per-query timeout (default 30)"
    )
    parser.add_argument(
        "--rule",
        choices=("auto", "set"),
        default="auto",
        help="auto: BIRD's set rule, ordered when the gold has a top-level ORDER BY (default); "
        "set: BIRD's set rule always",
    )
    parser.add_argument(
        "--compare", nargs="+", metavar="RUN", help="compare finished evaluation runs side by side"
    )
    parser.add_argument(
        "--json", action="store_true", help="with --compare: print the table as JSON"
    )
    parser.set_defaults(func=run)


def _given(args: argparse.Namespace, defaults: dict[str, Any]) -> list[str]:
    """The options among `defaults` (dest -> default) that the user set."""
    return [
        OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
        for name, default in defaults.items()
        if getattr(args, name) not in (None, default)
    ]


def run(args: argparse.Namespace) -> int:

    ws = open_workspace(args.workspace)
    if args.compare:
        stray = _given(
            args, {**GENERATION_DEFAULTS, "dataset": None, "predictions": None, "out": None}
        )
        if stray:
            raise StudioError(f"--compare takes run folders only; drop {', '.join(stray)}")
        return _compare(ws, args)
    if args.json:
        raise StudioError("--json goes with --compare (evaluations always print JSON)")
    if not args.dataset:
        raise StudioError(
            "name the dataset to evaluate on with --dataset NAME "
            "(see `python -m studio data list`), or use --compare RUN ..."
        )
    if args.predictions is not None:
        stray = _given(args, GENERATION_DEFAULTS)
        if stray:
            raise StudioError(
                f"--predictions scores a file without generating; drop {', '.join(stray)}"
            )
        return _score(ws, args)
    return _generate(ws, args)


def _score(ws, args: argparse.Namespace) -> int:
    from studio.evaluate import score_predictions

    summary = score_predictions(
        ws,
        args.dataset,
        args.predictions,
        out_dir=args.out,
        workers=args.workers,
        timeout_s=args.timeout,
        rule=args.rule,
    )
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def _generate(ws, args: argparse.Namespace) -> int:
    from studio.evaluate import EvalConfig, load_summary
    from studio.evaluate.job import submit_evaluation
    from studio.jobs import exit_code, follow_in_terminal
    from studio.jobs.runs import adapter_folder
    from studio.models.references import DEFAULT_MODEL

    config = EvalConfig(
        dataset=args.dataset,
        model=args.model or DEFAULT_MODEL,
        adapters=tuple(adapter_folder(ws, value) for value in args.adapters),
        limit=args.limit,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        workers=args.workers,
        merge_adapters=not args.no_merge,
        timeout_s=args.timeout,
        rule=args.rule,
        engine=args.engine,
        vote=args.vote,
        vote_temperature=args.vote_temperature,
    )
    job = submit_evaluation(ws, config, args.out)
    print(f"job {job.id} queued: {job.run_dir}", file=sys.stderr, flush=True)
    if args.detach:
        print(json.dumps({"job": job.id, "run_dir": str(job.run_dir)}))
        return 0
    job = follow_in_terminal(ws, job.id, log_stream=sys.stderr)
    if job.state == "succeeded":
        print(json.dumps(load_summary(job.run_dir), indent=2, ensure_ascii=False))
    return exit_code(job)


def _compare(ws, args: argparse.Namespace) -> int:
    from studio.evaluate import compare_runs
    from studio.jobs.kinds import EVAL
    from studio.jobs.runs import find_run_dir

    table = compare_runs([find_run_dir(ws, value, EVAL.name) for value in args.compare])
    print(
        json.dumps(table.to_dict(), indent=2, ensure_ascii=False) if args.json else table.to_text()
    )
    return 0
