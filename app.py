"""Start Text-to-SQL Studio in the browser: `python app.py [--host H] [--port P] [--data-root DIR]`.

A login comes from $STUDIO_AUTH or --auth-file FILE (docs/UI.md, "Who can reach the studio").
"""

from __future__ import annotations

import argparse
import sys

from studio.commands.serve import add_serve_options
from studio.commands.serve import run as run_serve
from studio.errors import StudioError


def main() -> int:
    parser = argparse.ArgumentParser(description="Text-to-SQL Studio (browser UI)")
    add_serve_options(parser)
    parser.add_argument(
        "--workspace", default=None, metavar="DIR", help="workspace folder (default ./workspace)"
    )
    try:
        return run_serve(parser.parse_args())
    except StudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
