"""What the Train tab shows of a training run beside the job panel: its metrics.jsonl read on as
it grows (the charts' records), the step line, the runs history and what a resume says.

    feed = follow_metrics(None, run_dir)      # every record so far, the run's stage and max_steps
    feed = follow_metrics(feed, run_dir)      # the same object when nothing was appended
    feed.step_line()                          # "Step **3** / 8 · epoch 0.75 · 41.2 tokens/s"
    rows = history_rows(train_runs(ws))       # one row per run, under HISTORY_COLUMNS
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.jobs.rundir import RunDir
from studio.jobs.runtime import read_jsonl_from

if TYPE_CHECKING:
    from studio.jobs.model import Job
    from studio.jobs.runs import Run
    from studio.train.resume import ResumePoint

HISTORY_COLUMNS = (
    "run",
    "job",
    "stage",
    "state",
    "datasets",
    "model",
    "step",
    "loss",
    "started",
    "duration",
    "error",
)


@dataclass(frozen=True)
class MetricsFeed:
    """A training run's metrics.jsonl as read so far, with its stage and max_steps."""

    run_dir: Path
    stage: str
    max_steps: int
    offset: int = 0
    records: tuple[dict[str, Any], ...] = ()

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The records of training steps (evaluation records left out)."""
        return [record for record in self.records if "loss" in record]

    def step_line(self) -> str:
        """The last logged step of the run, of max_steps when set, with its epoch and tokens/s."""
        steps = self.steps
        last = steps[-1] if steps else {}
        text = f"Step **{last.get('step', 0)}**"
        if self.max_steps > 0:
            text += f" / {self.max_steps}"
        if not steps:
            return f"{text} · waiting for the first logged step"
        if "epoch" in last:
            text += f" · epoch {last['epoch']}"
        if last.get("tokens_per_s") is not None:
            text += f" · {last['tokens_per_s']} tokens/s"
        return text


def follow_metrics(feed: MetricsFeed | None, run_dir: Path) -> MetricsFeed:
    """`feed` with the records appended to `run_dir`'s metrics.jsonl since it was read, or the
    whole file for another run (or one rewritten meanwhile); `feed` itself when nothing is new."""
    run_dir = Path(run_dir)
    path = RunDir(run_dir).metrics
    size = path.stat().st_size if path.exists() else 0
    if feed is None or feed.run_dir != run_dir or size < feed.offset:
        config = RunDir(run_dir).read_config() or {}
        feed = MetricsFeed(
            run_dir, config.get("stage") or "sft", int(config.get("max_steps") or -1)
        )
        new, offset = read_jsonl_from(path)
        return replace(feed, offset=offset, records=tuple(new))
    new, offset = read_jsonl_from(path, feed.offset)
    if offset == feed.offset:
        return feed
    return replace(feed, offset=offset, records=feed.records + tuple(new))


def history_rows(runs: list[Run]) -> list[list[Any]]:
    """One row per training run (under HISTORY_COLUMNS): its newest job, config and last step."""
    rows = []
    for run in runs:
        last = run.last_metrics or {}
        started = run.job.started_at or run.job.created_at
        duration = run.job.duration_s
        rows.append(
            [
                run.name,
                run.job.id,
                run.config.get("stage", ""),
                run.state,
                ", ".join(run.config.get("dataset") or []),
                run.config.get("model_name_or_path", ""),
                last.get("step", ""),
                _rounded(last.get("loss")),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
                f"{duration:.0f} s" if duration is not None else "",
                run.job.error or "",
            ]
        )
    return rows


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else ("" if value is None else value)


def resume_message(job: Job, point: ResumePoint | None) -> str:
    """What the page says of a resumed run: the job, the checkpoint and any skipped ones."""
    text = f"Job {job.id} resumes `{job.run_dir.name}`"
    if point is None:
        return f"{text}."
    skipped = "".join(f" Skipped {folder.name} ({reason})." for folder, reason in point.skipped)
    return f"{text} from `{point.checkpoint.name}`.{skipped}"
