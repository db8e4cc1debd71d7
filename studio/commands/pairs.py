"""`python -m studio pairs`: mine execution-verified DPO pairs, curate them, export them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from studio.data.importers.demo import open_workspace
from studio.errors import StudioError
from studio.inference.settings import DEFAULT_ENGINE, DEFAULT_MAX_NEW_TOKENS, ENGINE_HELP, ENGINES
from studio.pairs.store import STATUSES, STRATEGIES

HELP = (
    "mine execution-verified DPO pairs from a model, review and edit them, "
    "export a preference dataset"
)


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="pairs_verb", metavar="SUBVERB", required=True)

    generate = verbs.add_parser(
        "generate", help="mine pairs as a background job (followed unless --detach)"
    )
    generate.add_argument(
        "--model", help="model reference: builtin:<name>, a model folder or a .gguf file"
    )
    generate.add_argument(
        "--adapter",
        dest="adapters",
        action="append",
        default=[],
        metavar="DIR",
        help="LoRA adapter folder or training run (folder or name), merged for speed "
        "(repeatable, applied in order)",
    )
    generate.add_argument(
        "--dataset", help="registered dataset whose questions (with gold SQL) are answered"
    )
    generate.add_argument("--n", type=int, default=4, help="samples per question (default 4)")
    generate.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="gold",
        help="gold: chosen = gold SQL; onpolicy: chosen = a correct sample (default gold)",
    )
    generate.add_argument(
        "--temperature", type=float, default=0.8, help="0 for greedy (then --n 1); default 0.8"
    )
    generate.add_argument(
        "--top-p", type=float, default=0.95, help="nucleus sampling (default 0.95)"
    )
    generate.add_argument("--limit", type=int, help="only the first N questions")
    generate.add_argument(
        "--pairs-per-question", type=int, default=1, metavar="K", help="at most K pairs (default 1)"
    )
    generate.add_argument(
        "--batch-size", type=int, default=16, help="prompts per generation batch (default 16)"
    )
    generate.add_argument(
        "--max-new-tokens",
        type=int,
        default=DEFAULT_MAX_NEW_TOKENS,
        help=f"per answer (default {DEFAULT_MAX_NEW_TOKENS})",
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help=ENGINE_HELP)
    generate.add_argument(
        "--detach", action="store_true", help="print the job id and return at once"
    )
    generate.add_argument(
        "--resume",
        metavar="RUN",
        help="continue a stopped mining run (folder or name under "
        "runs/) with the questions that have no candidates yet",
    )
    generate.set_defaults(func=run_generate)

    build = verbs.add_parser(
        "build", help="build pairs under another strategy from a run's stored candidates"
    )
    build.add_argument("run", metavar="RUN", help="mining run folder or name under runs/")
    build.add_argument("--strategy", choices=STRATEGIES, required=True)
    build.add_argument("--pairs-per-question", type=int, metavar="K")
    build.set_defaults(func=run_build)

    listing = verbs.add_parser("list", help="list pairs")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--strategy", choices=STRATEGIES)
    listing.add_argument("--db", dest="db_id", metavar="DB_ID")
    listing.add_argument("--verdict", choices=("valid", "flagged"))
    listing.add_argument("--run", dest="run_id", metavar="RUN_ID")
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="one JSON object per pair")
    listing.set_defaults(func=run_list)

    show = verbs.add_parser(
        "show",
        help="one pair with both executions, the vote among its question's mined samples and "
        "its edit history (JSON)",
    )
    show.add_argument("id", type=int)
    show.set_defaults(func=run_show)

    setter = verbs.add_parser(
        "set", help="set a pair's status and/or edit its SQL (edits are re-verified)"
    )
    setter.add_argument("id", type=int)
    setter.add_argument("--status", choices=STATUSES)
    setter.add_argument(
        "--chosen", metavar="SQL", help="new chosen SQL (re-executed against the gold)"
    )
    setter.add_argument(
        "--rejected", metavar="SQL", help="new rejected SQL (re-executed against the gold)"
    )
    setter.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="per-query timeout of the re-execution (default 30)",
    )
    setter.set_defaults(func=run_set)

    export = verbs.add_parser(
        "export", help="export accepted and edited pairs as a registered preference dataset"
    )
    export.add_argument("--name", required=True, help="dataset name to register")
    export.add_argument("--include-pending", action="store_true", help="export pending pairs too")
    export.add_argument("--strategy", choices=STRATEGIES, help="only pairs of this strategy")
    export.add_argument(
        "--run", dest="run_id", metavar="RUN_ID", help="only pairs mined by this run"
    )
    export.add_argument(
        "--replace",
        action="store_true",
        help="replace the dataset --name when it exists (refused without this)",
    )
    export.set_defaults(func=run_export)

    summary = verbs.add_parser("summary", help="pair counts by status, strategy and verdict (JSON)")
    summary.set_defaults(func=run_summary)


def _workspace(args: argparse.Namespace) -> Any:

    return open_workspace(args.workspace)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def run_generate(args: argparse.Namespace) -> int:
    from studio.jobs import exit_code, follow_in_terminal
    from studio.jobs.kinds import MINE, resume_run
    from studio.jobs.runs import adapter_folder
    from studio.pairs.config import MiningConfig
    from studio.pairs.launch import start_mining

    ws = _workspace(args)
    if args.resume:
        job, _ = resume_run(ws, args.resume, MINE)
    else:
        if not args.model or not args.dataset:
            raise StudioError(
                "pairs generate needs --model REF and --dataset NAME (or --resume RUN)"
            )
        config = MiningConfig.from_mapping(
            {
                "model": args.model,
                "dataset": args.dataset,
                "adapters": [adapter_folder(ws, value) for value in args.adapters],
                "n": args.n,
                "temperature": args.temperature,
                "top_p": args.top_p,
                "strategy": args.strategy,
                "limit": args.limit,
                "pairs_per_question": args.pairs_per_question,
                "batch_size": args.batch_size,
                "max_new_tokens": args.max_new_tokens,
                "seed": args.seed,
                "engine": args.engine,
            },
            where="pairs generate",
        )
        job = start_mining(ws, config)
    print(f"job {job.id} queued: {job.run_dir}", flush=True)
    if args.detach:
        return 0
    return exit_code(follow_in_terminal(ws, job.id))


def run_build(args: argparse.Namespace) -> int:
    from studio.jobs.kinds import MINE
    from studio.jobs.runs import find_run_dir
    from studio.pairs.mine import rebuild_pairs

    ws = _workspace(args)
    run_dir = find_run_dir(ws, args.run, MINE.name)
    _print_json(rebuild_pairs(ws, run_dir, args.strategy, args.pairs_per_question))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from studio.pairs.curate import list_pairs

    pairs = list_pairs(
        _workspace(args),
        status=args.status,
        strategy=args.strategy,
        db_id=args.db_id,
        verdict=args.verdict,
        run_id=args.run_id,
        offset=args.offset,
        limit=args.limit,
    )
    for pair in pairs:
        if args.json:
            print(json.dumps(pair.to_dict(), ensure_ascii=False))
        else:
            print(
                f"{pair.id:>6}  {pair.status:<12} {pair.strategy:<8} {pair.verdict:<7} "
                f"{pair.db_id or '-':<16} "
                f"rejected={pair.rejected_label:<12} {' '.join(pair.rejected_sql.split())[:60]}"
            )
    if not args.json:
        print(f"{len(pairs)} pair(s)", file=sys.stderr)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from studio.pairs.curate import get_pair, pair_history
    from studio.pairs.records import question_vote

    ws = _workspace(args)
    pair = get_pair(ws, args.id)
    _print_json(
        {
            **pair.to_dict(),
            "question_vote": question_vote(ws, pair.run_id, pair.question_index),
            "history": [edit.to_dict() for edit in pair_history(ws, args.id)],
        }
    )
    return 0


def run_set(args: argparse.Namespace) -> int:
    from studio.pairs.curate import edit_pair, set_status

    if args.status is None and args.chosen is None and args.rejected is None:
        raise StudioError("pairs set needs --status S and/or --chosen SQL / --rejected SQL")
    ws = _workspace(args)
    pair = None
    if args.chosen is not None or args.rejected is not None:
        pair = edit_pair(
            ws,
            args.id,
            chosen=args.chosen,
            rejected=args.rejected,
            actor="cli",
            timeout_s=args.timeout,
        )
        if pair.verdict == "flagged":
            print(f"pair {pair.id} saved as needs_review: {pair.flag}", file=sys.stderr)
    if args.status is not None and not (pair is not None and pair.status == args.status):
        if (
            pair is not None
            and pair.verdict == "flagged"
            and args.status not in ("needs_review", "rejected")
        ):
            raise StudioError(
                f"pair {pair.id}: the edit was saved but does not verify ({pair.flag}), "
                f"so it stays needs_review instead of {args.status}; fix the SQL and set it again"
            )
        pair = set_status(ws, args.id, args.status, actor="cli")
    _print_json(pair.to_dict())
    return 0


def run_export(args: argparse.Namespace) -> int:
    from studio.pairs.curate import PairFilter
    from studio.pairs.export import export_pairs

    only = PairFilter(strategy=args.strategy, run_id=args.run_id)
    summary = export_pairs(
        _workspace(args),
        args.name,
        include_pending=args.include_pending,
        only=only,
        replace=args.replace,
    )
    _print_json(summary)
    return 0


def run_summary(args: argparse.Namespace) -> int:
    from studio.pairs.curate import pair_counts

    _print_json(pair_counts(_workspace(args)))
    return 0
