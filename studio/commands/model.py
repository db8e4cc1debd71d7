"""`python -m studio model`: inspect and prepare model references."""

from __future__ import annotations

import argparse
import json
import sys

from studio.export.gguf_file import GGUF_DTYPES
from studio.export.merge import DTYPES
from studio.models.references import DEFAULT_MODEL

HELP = "inspect and prepare models (builtin:..., a local folder or a .gguf file)"


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="model_verb", metavar="ACTION", required=True)
    info = verbs.add_parser(
        "info", help="architecture, parameter count, dtype, chat template, location"
    )
    info.add_argument(
        "ref", nargs="?", default=DEFAULT_MODEL, help=f"model reference (default {DEFAULT_MODEL})"
    )
    info.set_defaults(func=run_info)
    verify = verbs.add_parser(
        "verify", help="re-hash a converted model's files against its manifest"
    )
    verify.add_argument("ref", nargs="?", default=DEFAULT_MODEL)
    verify.set_defaults(func=run_verify)
    ask = verbs.add_parser(
        "ask",
        help=(
            "one question, up to three model variants side by side, each SQL executed "
            "(the Playground)"
        ),
    )
    ask.add_argument(
        "--db", required=True, help="SQLite file or mysql://user:pass@host:port/db URL"
    )
    ask.add_argument("--question", required=True)
    ask.add_argument("--evidence", default=None, help="BIRD-style hint added to the prompt")
    ask.add_argument(
        "--gold", default=None, metavar="SQL", help="gold SQL: each answer gets a verdict"
    )
    ask.add_argument(
        "--variant",
        action="append",
        default=None,
        metavar="REF[+ADAPTER...]",
        help=(
            "model reference with LoRA adapters joined by '+' "
            f"(repeat up to 3; default {DEFAULT_MODEL})"
        ),
    )
    ask.set_defaults(func=run_ask)
    export = verbs.add_parser(
        "export",
        help="merge a model and its adapters into a Hugging Face folder, optionally a GGUF file "
        "and an Ollama Modelfile, each checked",
    )
    export.add_argument(
        "ref", nargs="?", default=DEFAULT_MODEL, help=f"model reference (default {DEFAULT_MODEL})"
    )
    export.add_argument(
        "--adapter",
        action="append",
        default=[],
        dest="adapters",
        metavar="RUN|FOLDER",
        help="LoRA adapter: a training run's name or folder, or an adapter folder (repeat, in "
        "stacking order: SFT first, then DPO)",
    )
    export.add_argument("--out", required=True, metavar="DIR", help="new or empty output folder")
    export.add_argument(
        "--dtype", choices=tuple(DTYPES), default="bf16", help="merged weights (default bf16)"
    )
    export.add_argument(
        "--gguf", choices=GGUF_DTYPES, default=None, help="also write a GGUF file of this type"
    )
    export.add_argument(
        "--modelfile",
        action="store_true",
        help="also write an Ollama Modelfile (needs --gguf) with the trained system prompt",
    )
    export.add_argument(
        "--system",
        default=None,
        metavar="TEXT",
        help="the Modelfile's system prompt (default: the one the adapters were trained with)",
    )
    export.set_defaults(func=run_export)


def run_info(args: argparse.Namespace) -> int:
    from studio.models.references import model_info

    print(json.dumps(model_info(args.ref), indent=2))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from studio.models.cache import folder_problem
    from studio.models.references import resolve_model_dir

    folder = resolve_model_dir(args.ref)
    problem = folder_problem(folder, full=True)
    print(
        json.dumps(
            {"ref": args.ref, "path": str(folder), "ok": problem is None, "problem": problem}
        )
    )
    return 0 if problem is None else 1


def run_ask(args: argparse.Namespace) -> int:
    from studio.inference.playground import Variant, answer, check_variants

    specs = args.variant or [DEFAULT_MODEL]
    variants = check_variants(
        [Variant(spec.split("+")[0], tuple(spec.split("+")[1:])) for spec in specs]
    )
    print(
        f"answering with {', '.join(v.label for v in variants)}: loading each model "
        "(a built-in model is converted on first use), then generating…",
        file=sys.stderr,
        flush=True,
    )
    answers = answer(args.question, args.db, variants, evidence=args.evidence, gold_sql=args.gold)
    print(
        json.dumps(
            [
                {
                    "variant": item.variant.label,
                    "sql": item.sql,
                    "verdict": item.verdict,
                    "error": item.error,
                    "result": item.execution.to_dict() if item.execution else None,
                    "seconds": round(item.seconds, 2),
                }
                for item in answers
            ],
            indent=2,
            default=str,
        )
    )
    return 0 if all(item.error is None for item in answers) else 1


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from studio.export.pipeline import ExportRequest, export_model, resolve_adapter
    from studio.workspace import Workspace

    workspace = Workspace.open(args.workspace)
    request = ExportRequest(
        ref=args.ref,
        adapters=tuple(resolve_adapter(workspace, value) for value in args.adapters),
        out_dir=Path(args.out),
        dtype=args.dtype,
        gguf=args.gguf,
        modelfile=args.modelfile,
        system=args.system,
    )
    result = export_model(request)
    print(
        json.dumps(
            {"out": str(result.out_dir), "files": [p.name for p in result.files], **result.record},
            indent=2,
            ensure_ascii=False,
        )
    )
    return 0
