"""`python -m studio serve`: start the browser studio (what `python app.py` does).

Who may reach it is decided in studio.web.access (login from the environment or a file,
loopback unless a login or --insecure-no-auth), what it may read and write in
studio.web.path_roots (the workspace, configs/, data/ and each --data-root).
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys

from studio.data.importers.demo import open_workspace
from studio.errors import StudioError
from studio.web.access import (
    ARGV_PASSWORD_REFUSED,
    AUTH_ENV,
    AUTH_FILE_FLAG,
    INSECURE_FLAG,
    check_binding,
    load_credentials,
)
from studio.web.path_roots import DATA_ROOT_FLAG

HELP = "start the browser studio (default http://127.0.0.1:7860)"


def register(parser: argparse.ArgumentParser) -> None:
    add_serve_options(parser)
    parser.set_defaults(func=run)


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """The options shared by `serve` and app.py."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1: this machine only; any other "
        f"needs a login or {INSECURE_FLAG})",
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument(
        AUTH_FILE_FLAG,
        metavar="FILE",
        help=f"require the login USER:PASS written in FILE (mode 600); "
        f"or set ${AUTH_ENV}=USER:PASS",
    )
    parser.add_argument(
        INSECURE_FLAG,
        action="store_true",
        help="allow a --host beyond this machine without a login (prints a warning)",
    )
    parser.add_argument(
        DATA_ROOT_FLAG,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the page may read and write besides the workspace, "
        "configs/ and data/ (repeatable)",
    )
    # refused with a message naming the environment variable and the file (see run)
    parser.add_argument("--auth", dest="auth_on_command_line", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.auth_on_command_line is not None:
        raise StudioError(ARGV_PASSWORD_REFUSED)
    credentials = load_credentials(args.auth_file, os.environ)
    os.environ.pop(AUTH_ENV, None)  # the jobs the studio starts need no password
    warning = check_binding(args.host, args.port, credentials, args.insecure_no_auth)

    from studio.web.path_roots import PathRoots

    workspace = open_workspace(args.workspace)
    roots = PathRoots.for_workspace(workspace.root, args.data_root)
    if warning:
        print(warning, file=sys.stderr, flush=True)

    from studio.ui.app import serve

    dump_stacks_on_signal()
    serve(workspace, roots, host=args.host, port=args.port, auth=credentials)
    return 0


def dump_stacks_on_signal() -> None:
    """`kill -USR1 <pid>` makes the studio write every thread's stack to stderr (its log) and
    go on serving: where a studio that stops answering waits."""
    if hasattr(signal, "SIGUSR1"):  # POSIX only
        faulthandler.register(signal.SIGUSR1, all_threads=True)
