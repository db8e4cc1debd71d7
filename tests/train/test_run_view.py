"""What the Train tab shows of a run beside the job panel (no browser): metrics.jsonl read on as
it grows, the step line, the history rows and the resume message."""

from __future__ import annotations

import json
from pathlib import Path

from studio.jobs import submit
from studio.jobs.runs import train_runs
from studio.train.config import config_from_mapping, load_config
from studio.train.resume import ResumePoint
from studio.train.run_view import (
    HISTORY_COLUMNS,
    follow_metrics,
    history_rows,
    resume_message,
)
from studio.train.worker import write_run_config
from studio.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]


def step(n: int, **extra: object) -> dict[str, object]:
    return {"step": n, "epoch": n / 4, "loss": 2.0 - n / 10, "tokens_per_s": 40.0 + n, **extra}


def append(run_dir: Path, *records: dict[str, object], text: str = "") -> None:
    with open(run_dir / "metrics.jsonl", "a") as handle:
        handle.write("".join(json.dumps(record) + "\n" for record in records) + text)


def test_metrics_are_read_on_from_where_the_last_read_stopped(tmp_path: Path) -> None:
    run_dir = tmp_path / "dpo-run"
    run_dir.mkdir()
    write_run_config(run_dir, load_config(REPO_ROOT / "configs" / "demo_dpo.yaml"))
    max_steps = load_config(REPO_ROOT / "configs" / "demo_dpo.yaml").max_steps
    feed = follow_metrics(None, run_dir)  # no metrics.jsonl yet
    assert (feed.stage, feed.max_steps, feed.records) == ("dpo", max_steps, ())
    assert feed.step_line() == f"Step **0** / {max_steps} · waiting for the first logged step"
    assert follow_metrics(feed, run_dir) is feed

    append(run_dir, step(1), {"step": 1, "eval_loss": 1.5})
    first = follow_metrics(feed, run_dir)
    assert [r["step"] for r in first.records] == [1, 1] and [r["step"] for r in first.steps] == [1]
    assert follow_metrics(first, run_dir) is first

    line = json.dumps(step(2)) + "\n"
    append(run_dir, text=line[:15])  # the trainer caught mid-line: nothing new yet
    assert follow_metrics(first, run_dir) is first
    append(run_dir, text=line[15:])
    second = follow_metrics(first, run_dir)
    assert [r["step"] for r in second.steps] == [1, 2]
    assert second.step_line() == f"Step **2** / {max_steps} · epoch 0.5 · 42.0 tokens/s"

    (run_dir / "metrics.jsonl").write_text(json.dumps(step(1)) + "\n")  # rewritten, shorter
    assert [r["step"] for r in follow_metrics(second, run_dir).steps] == [1]


def test_another_run_is_read_afresh_and_a_run_without_max_steps_shows_no_total(
    tmp_path: Path,
) -> None:
    first, other = tmp_path / "sft-a", tmp_path / "sft-b"
    first.mkdir()
    other.mkdir()
    write_run_config(first, config_from_mapping({"dataset": "demo_train", "max_steps": 3}))
    write_run_config(other, config_from_mapping({"dataset": "demo_train", "max_steps": -1}))
    append(first, step(1), step(2))
    append(other, step(3, tokens_per_s=None))
    feed = follow_metrics(follow_metrics(None, first), other)
    assert feed.run_dir == other and [r["step"] for r in feed.steps] == [3]
    assert (feed.stage, feed.max_steps) == ("sft", -1)
    assert feed.step_line() == "Step **3** · epoch 0.75"


def test_history_rows_show_each_run_with_its_newest_job_and_last_step(
    workspace: Workspace,
) -> None:
    run_dir = workspace.new_run_dir("sft")
    write_run_config(
        run_dir, config_from_mapping({"dataset": "demo_train", "max_steps": 3, "stage": "sft"})
    )
    append(run_dir, step(1), step(2, loss=1.234567))
    submit(workspace, "train", ["true"], run_dir, title="first")
    job = submit(workspace, "train", ["true", "--resume"], run_dir, title="resumed")
    rows = history_rows(train_runs(workspace))
    assert len(rows) == 1
    row = dict(zip(HISTORY_COLUMNS, rows[0], strict=True))
    assert (row["run"], row["job"], row["stage"], row["state"]) == (
        run_dir.name,
        job.id,
        "sft",
        "queued",
    )
    assert (row["datasets"], row["step"], row["loss"], row["duration"], row["error"]) == (
        "demo_train",
        2,
        1.2346,
        "",
        "",
    )


def test_the_resume_message_names_the_checkpoint_and_the_skipped_ones(
    workspace: Workspace,
) -> None:
    run_dir = workspace.new_run_dir("sft")
    job = submit(workspace, "train", ["true"], run_dir)
    point = ResumePoint(
        run_dir / "checkpoint-4",
        ((run_dir / "checkpoint-6", "no trainer_state.json"),),
        (),
    )
    assert resume_message(job, point) == (
        f"Job {job.id} resumes `{run_dir.name}` from `checkpoint-4`. "
        "Skipped checkpoint-6 (no trainer_state.json)."
    )
    assert resume_message(job, None) == f"Job {job.id} resumes `{run_dir.name}`."
