"""`python -m studio.pairs.worker RUN_DIR`: a mining job. Reads RUN_DIR/config.json, mines
into the workspace that holds RUN_DIR (continuing whatever the run already stored), streams
RUN_DIR/metrics.jsonl and writes RUN_DIR/summary.json."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from studio.jobs.rundir import RunDir
from studio.jobs.runtime import run_worker


def mine_run(run_dir: Path) -> None:
    from studio.pairs.config import read_config
    from studio.pairs.majority import vote_line
    from studio.pairs.mine import mine

    summary = mine(RunDir(run_dir).workspace(), run_dir.resolve(), read_config(run_dir))
    print(
        f"[pairs] {summary['status']}: "
        f"{summary['questions_done']}/{summary['questions_usable']} questions, "
        f"pairs {summary['pairs']}, skipped {summary['skipped']}; "
        f"voted among samples: {vote_line(summary['vote'])}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.pairs.worker")
    parser.add_argument("run_dir", type=Path, help="the mining run folder (holds config.json)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return run_worker(args.run_dir, lambda: mine_run(args.run_dir))


if __name__ == "__main__":
    sys.exit(main())
