"""Execution-only scoring speed: the 1,034 SpiderMan test gold queries as predictions.

    python bench/bench_scoring.py [--shared-data ../shared/data] [--workers N ...]

Prints one JSON line per figure: items, seconds, items/s and EX (must be 100.0, since
every prediction is its own gold). Gold and prediction both execute, so each item is
two queries.
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

from studio.sql.score import ScoreItem, execution_accuracy, score, tqdm_progress


def load_items(shared_data: Path, sqlite_dir: Path) -> list[ScoreItem]:
    with (shared_data / "spiderman" / "test_queries.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        ScoreItem(str(i), sqlite_dir / f"{row['database']}.sqlite", row["sql"], row["sql"])
        for i, row in enumerate(rows)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(args.shared_data / "spiderman" / "sqlite.tar.xz") as archive:
            archive.extractall(tmp, filter="data")
        items = load_items(args.shared_data, Path(tmp) / "sqlite")
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
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
