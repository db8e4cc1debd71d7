"""`python -m studio model`: inspect and prepare model references."""

from __future__ import annotations

import argparse
import json

from studio.models import DEFAULT_MODEL

HELP = "inspect and prepare models (builtin:..., a local folder or a .gguf file)"


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="model_verb", metavar="ACTION", required=True)
    info = verbs.add_parser("info", help="architecture, parameter count, dtype, chat template, location")
    info.add_argument("ref", nargs="?", default=DEFAULT_MODEL, help=f"model reference (default {DEFAULT_MODEL})")
    info.set_defaults(func=run_info)
    verify = verbs.add_parser("verify", help="re-hash a converted model's files against its manifest")
    verify.add_argument("ref", nargs="?", default=DEFAULT_MODEL)
    verify.set_defaults(func=run_verify)


def run_info(args: argparse.Namespace) -> int:
    from studio.models import model_info

    print(json.dumps(model_info(args.ref), indent=2))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from studio.model_cache import folder_problem
    from studio.models import resolve_model_dir

    folder = resolve_model_dir(args.ref)
    problem = folder_problem(folder, full=True)
    print(json.dumps({"ref": args.ref, "path": str(folder), "ok": problem is None, "problem": problem}))
    return 0 if problem is None else 1
