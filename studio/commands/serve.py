"""`python -m studio serve`: placeholder."""

from __future__ import annotations

import argparse

HELP = "(not built yet)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func=lambda args: parser.error("this verb is not built yet"))
