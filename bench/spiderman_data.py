"""The full SpiderMan copy that the SpiderMan benchmarks read, given as `--data DIR`.

DIR holds `test_queries.csv` (rows `database,question,sql`) and `sqlite.tar.xz`
(`sqlite/<db>.sqlite` for every database); docs/DATA.md says where SpiderMan comes from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REQUIRED_FILES = ("test_queries.csv", "sqlite.tar.xz")


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DIR",
        help="a full SpiderMan copy: test_queries.csv and sqlite.tar.xz (docs/DATA.md)",
    )


def checked_data_dir(folder: Path) -> Path:
    """`folder` when it holds the SpiderMan files; otherwise exit with what is missing."""
    if missing := [name for name in REQUIRED_FILES if not (folder / name).is_file()]:
        sys.exit(
            f"--data {folder} lacks {', '.join(missing)}: pass the folder of a full SpiderMan "
            "copy (SpiderMan: github.com/cloudera/spiderman; layout in docs/DATA.md)"
        )
    return folder
