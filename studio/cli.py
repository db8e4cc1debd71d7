"""`python -m studio <verb>`: the command line, calling the same core functions as the UI.

Each verb lives in `studio/commands/<module>.py`, which exposes `HELP` (one line) and
`register(parser)`. `register` adds the verb's options or sub-verbs and sets
`func=<callable(args) -> int>` on every leaf parser. Command modules import heavy
libraries (torch, transformers) inside their functions so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator, Sequence

from studio.errors import StudioError
from studio.workspace import WORKSPACE_ENV, default_workspace_path

# verb name -> module under studio.commands
VERBS: dict[str, str] = {
    "data": "data",
    "sql": "sql",
    "train": "train",
    "jobs": "jobs",
    "pairs": "pairs",
    "eval": "evaluate",
    "serve": "serve",
    "model": "model",
}


def _leaf_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Yield the parsers that take no further sub-verb."""
    children = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    if not children:
        yield parser
        return
    for action in children:
        for child in dict.fromkeys(action.choices.values()):
            yield from _leaf_parsers(child)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: one sub-parser per verb, `--workspace` on every leaf."""
    parser = argparse.ArgumentParser(
        prog="python -m studio",
        description="Text-to-SQL Studio: data, training, DPO pairs and execution accuracy.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, module_name in VERBS.items():
        module = importlib.import_module(f"studio.commands.{module_name}")
        verb_parser = verbs.add_parser(verb, help=module.HELP, description=module.HELP)
        module.register(verb_parser)
        for leaf in _leaf_parsers(verb_parser):
            leaf.add_argument(
                "--workspace",
                default=None,
                metavar="DIR",
                help=f"workspace folder (default: ${WORKSPACE_ENV} or {default_workspace_path()})",
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a StudioError becomes a one-line message and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
