"""Mining progress: a tqdm bar on a terminal (a plain line per batch in a job's log), one
metrics.jsonl record per batch (questions done/total, questions/s, candidates by label,
pairs by strategy, skipped questions by reason, the vote's figures), and the phase with its
count in the run's progress.jsonl (loading the model, then generating n/N as answers
finish)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from studio.jobs.runtime import GENERATING, LOADING, ProgressWriter, append_jsonl


class MiningProgress:
    """Counts questions answered in this session; `update` reports after every batch."""

    def __init__(
        self, total: int, done: int, metrics_path: Path | None, run_dir: Path | None = None
    ) -> None:
        self.total, self.done, self.metrics_path = total, done, metrics_path
        self.phases = ProgressWriter(run_dir) if run_dir is not None else None
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
            "vote": counts["vote"],
            "time": time.time(),
        }

    def loading(self) -> None:
        """The model is being loaded."""
        if self.phases is not None:
            self.phases.phase(LOADING)

    def generating(self) -> None:
        """Generation starts (the model is loaded)."""
        if self.phases is not None:
            self.phases.phase(GENERATING, total=self.total, unit="questions", done=self.done)

    def answered(self, questions: int) -> None:
        """`questions` of this session's batches have all their samples (before they are stored)."""
        if self.phases is not None:
            self.phases.advance(self.done - self.new + questions)

    def update(self, questions: int, counts: dict[str, Any], strategy: str) -> None:
        self.done += questions
        self.new += questions
        if self.phases is not None:
            self.phases.advance(self.done)
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
