"""End-to-end evaluation speed and EX: a model on SpiderMan test (1,034 questions).

    python bench/bench_eval.py --data DIR [--limit N] [--model REF] [--adapter DIR ...]
                               [--engine batched|continuous ...] [--batch-size N]
                               [--max-new-tokens N] [--out DIR]

DIR is a full SpiderMan copy (test_queries.csv, sqlite.tar.xz). SpiderMan test is imported
into a temporary workspace with the CSV importer (prompts from the introspected SQLite
databases), then `studio.evaluate.evaluate` generates greedily (adapters merged), extracts
the SQL and scores it in worker processes, once per `--engine` given (default: batched). The
device is CUDA when available, else CPU; `--limit` defaults to 40 questions on CPU and all
1,034 on a GPU. Prints one JSON line per engine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from spiderman_data import add_data_argument, checked_data_dir

from studio.data.importers.common import ImportOptions
from studio.data.importers.csv_sqlite import import_csv
from studio.data.importers.demo import open_workspace
from studio.evaluate import evaluate
from studio.inference.settings import DEFAULT_BATCH_SIZE, DEFAULT_ENGINE, ENGINES
from studio.models.loading import default_device
from studio.models.references import DEFAULT_MODEL

CPU_LIMIT = 40
GPU_BATCH_SIZE = 2048


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--adapter", dest="adapters", action="append", default=[], metavar="DIR")
    parser.add_argument(
        "--engine",
        dest="engines",
        action="append",
        choices=ENGINES,
        metavar="ENGINE",
        help=f"one of {', '.join(ENGINES)}; repeat to compare (default: {DEFAULT_ENGINE})",
    )
    parser.add_argument(
        "--limit", type=int, help=f"questions (default: {CPU_LIMIT} on CPU, all on GPU)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"default: {DEFAULT_BATCH_SIZE} on CPU, {GPU_BATCH_SIZE} on GPU "
        "(all SpiderMan test at once)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--workers", type=int, help="scoring processes (default: one per CPU)")
    parser.add_argument(
        "--out", type=Path, help="keep the run folders under DIR/<engine> (default: temporary)"
    )
    args = parser.parse_args()
    data_dir = checked_data_dir(args.data)
    device = default_device()
    gpu = device.startswith("cuda")
    limit = args.limit if args.limit is not None else (None if gpu else CPU_LIMIT)
    batch_size = args.batch_size or (GPU_BATCH_SIZE if gpu else DEFAULT_BATCH_SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(data_dir / "sqlite.tar.xz") as archive:
            archive.extractall(tmp, filter="data")
        ws = open_workspace(Path(tmp) / "workspace")
        import_csv(
            ws,
            data_dir / "test_queries.csv",
            ImportOptions(name="spiderman_test", db_dir=Path(tmp) / "sqlite"),
        )
        for engine in args.engines or [DEFAULT_ENGINE]:
            summary = evaluate(
                ws,
                "spiderman_test",
                model=args.model,
                adapters=args.adapters,
                limit=limit,
                batch_size=batch_size,
                max_new_tokens=args.max_new_tokens,
                workers=args.workers,
                engine=engine,
                out_dir=args.out.resolve() / engine if args.out else None,
            )
            report(summary, args, device, engine, batch_size)


def report(
    summary: dict, args: argparse.Namespace, device: str, engine: str, batch_size: int
) -> None:
    """One JSON line for one engine's evaluation."""
    timings = summary["timings"]
    print(
        json.dumps(
            {
                "figure": "spiderman_test_eval",
                "model": args.model,
                "adapters": args.adapters,
                "engine": engine,
                "device": device,
                "questions": summary["n"],
                "batch_size": batch_size,
                "max_new_tokens": args.max_new_tokens,
                "load_s": timings["load_s"],
                "generation_s": timings["generation_s"],
                "questions_per_s": timings["questions_per_s"],
                "scoring_s": timings["scoring_s"],
                "ex": summary["ex"],
                "ex_ci95": summary["ex_ci95"],
                "categories": summary["categories"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
