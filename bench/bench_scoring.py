"""Execution-only scoring speed: the 1,034 SpiderMan test gold queries as predictions.

    python bench/bench_scoring.py --data DIR [--workers N ...]

DIR is a full SpiderMan copy (test_queries.csv, sqlite.tar.xz). Prints one JSON line per
figure: items, seconds, items/s, EX and how many gold results are empty. Every prediction is
its own gold, so anything but EX 100.0 is a scoring fault: the script then names the items
and exits 1. Gold and prediction both execute, so each item is two queries.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from spiderman_data import add_data_argument, checked_data_dir

from studio.sql.score import ScoreItem, execution_accuracy, score, tqdm_progress


def load_items(data_dir: Path, sqlite_dir: Path) -> list[ScoreItem]:
    with (data_dir / "test_queries.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        ScoreItem(str(i), sqlite_dir / f"{row['database']}.sqlite", row["sql"], row["sql"])
        for i, row in enumerate(rows)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    data_dir = checked_data_dir(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(data_dir / "sqlite.tar.xz") as archive:
            archive.extractall(tmp, filter="data")
        items = load_items(data_dir, Path(tmp) / "sqlite")
        for workers in args.workers:
            update, close = tqdm_progress(len(items), f"scoring ({workers} workers)")
            started = time.perf_counter()
            verdicts = score(items, workers=workers, timeout_s=args.timeout, progress=update)
            seconds = time.perf_counter() - started
            close()
            print(
                json.dumps(
                    {
                        "figure": "spiderman_test_gold_as_pred",
                        "engine": "sqlite",
                        "workers": workers,
                        "items": len(items),
                        "seconds": round(seconds, 2),
                        "items_per_s": round(len(items) / seconds, 1),
                        "ex": round(execution_accuracy(verdicts), 2),
                        "gold_empty": sum(v.gold.row_count == 0 for v in verdicts),
                    }
                ),
                flush=True,
            )
            if wrong := [f"{v.key}: {v.category}" for v in verdicts if not v.correct]:
                named = ", ".join(wrong[:20])
                sys.exit(f"{len(wrong)} gold queries did not score as themselves: {named}")


if __name__ == "__main__":
    main()
