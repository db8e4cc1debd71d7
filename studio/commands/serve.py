"""`python -m studio serve`: start the browser studio (what `python app.py` does)."""

from __future__ import annotations

import argparse
import os

from studio.errors import StudioError

HELP = "start the browser studio (default http://127.0.0.1:7860)"
AUTH_ENV = "STUDIO_AUTH"


def register(parser: argparse.ArgumentParser) -> None:
    add_serve_options(parser)
    parser.set_defaults(func=run)


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """--host, --port and --auth, shared by `serve` and app.py."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument(
        "--auth",
        default=os.environ.get(AUTH_ENV),
        metavar="USER:PASS",
        help=f"require this login (default: ${AUTH_ENV} if set, else no login)",
    )


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """`user:pass` -> (user, pass); None stays None."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise StudioError(f"--auth expects USER:PASS, got {value!r}")
    return user, password


def run(args: argparse.Namespace) -> int:
    from studio.ui.app import serve
    from studio.workspace import Workspace

    serve(Workspace.open(args.workspace), host=args.host, port=args.port, auth=parse_auth(args.auth))
    return 0
