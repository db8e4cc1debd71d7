"""Mining progress: a tqdm bar on a terminal (a plain line per batch in a job's log), and one
metrics.jsonl record per batch (questions done/total, questions/s, candidates by label,
pairs by strategy, skipped questions by reason)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from studio.jobs.runtime import append_jsonl


class MiningProgress:
    """Counts questions answered in this session; `update` reports after every batch."""

    def __init__(self, total: int, done: int, metrics_path: Path | None) -> None:
        self.total, self.done, self.metrics_path = total, done, metrics_path
        self.new = 0
        self.started = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc="mining", unit="q", file=sys.stderr)

    @property
    def questions_per_s(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.new / elapsed if elapsed > 0 else 0.0

    def record(self, counts: dict[str, Any], strategy: str) -> dict[str, Any]:
        """The metrics record for the current state."""
        return {
            "questions_done": self.done,
            "questions_total": self.total,
            "questions_per_s": round(self.questions_per_s, 4),
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "candidates": counts["candidates"],
            "duplicates": counts["duplicates"],
            "pairs": counts["pairs"],
            "skipped": counts["skipped"].get(strategy, {}),
            "time": time.time(),
        }

    def update(self, questions: int, counts: dict[str, Any], strategy: str) -> None:
        self.done += questions
        self.new += questions
        record = self.record(counts, strategy)
        if self.metrics_path is not None:
            append_jsonl(self.metrics_path, record)
        if self.bar is not None:
            self.bar.update(questions)
            self.bar.set_postfix(pairs=sum(record["pairs"].values()))
        else:
            labels = (
                ", ".join(f"{k} {v}" for k, v in sorted(record["candidates"].items())) or "none"
            )
            print(
                f"[pairs] {self.done}/{self.total} questions, {record['questions_per_s']:.2f} q/s; "
                f"candidates: {labels}; pairs: {sum(record['pairs'].values())}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
