"""The training worker, held halfway through saving one checkpoint so a test can kill it there.

    python tests/train/paused_save_worker.py --pause-at STEP RUN_DIR [--resume]

Unless resuming, the save of checkpoint-STEP stops after the adapter, optimizer and scheduler
are written and before the RNG state and trainer_state.json: the worker writes
`RUN_DIR/paused-mid-save` and sleeps until it is killed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from transformers import Trainer

from studio.train import worker

PAUSED_FILE = "paused-mid-save"


def pause_before_rng_state(step: int, run_dir: Path) -> None:
    """Make every trainer stop inside the save of checkpoint-`step` (test-only fault injection)."""
    save_rng_state = Trainer._save_rng_state

    def paused(self: Any, output_dir: str) -> None:
        if self.state.global_step == step:
            (run_dir / PAUSED_FILE).write_text(output_dir)
            while True:
                time.sleep(1)
        save_rng_state(self, output_dir)

    Trainer._save_rng_state = paused


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause-at", type=int, required=True)
    known, rest = parser.parse_known_args()
    if "--resume" not in rest:
        pause_before_rng_state(known.pause_at, Path(rest[0]))
    return worker.main(rest)


if __name__ == "__main__":
    sys.exit(main())
