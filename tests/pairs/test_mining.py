"""Mining with the tiny model: what a run stores and reports, skip reasons, rebuilding under
another strategy, resuming, and a real generation job killed halfway and resumed."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.data.registry import DatasetMeta, database_ref, register_dataset
from studio.errors import StudioError
from studio.jobs import get_job, wait
from studio.jobs.rundir import RunDir
from studio.jobs.runtime import GENERATING, LOADING, read_jsonl
from studio.pairs.config import read_config, write_config
from studio.pairs.mine import mine, rebuild_pairs
from studio.pairs.store import writing
from studio.workspace import Workspace

from .conftest import TINY_LIMIT, store_rows, tiny_mining_config


def test_a_run_stores_every_sample_and_reports_progress(mined: tuple[Workspace, Path]) -> None:
    ws, run_dir = mined
    rows = store_rows(
        ws,
        "SELECT question_index, sample, label, completion, sql FROM pair_candidates "
        "WHERE run_id = ? ORDER BY question_index, sample",
        (run_dir.name,),
    )
    assert [(r["question_index"], r["sample"]) for r in rows] == [
        (q, s) for q in range(TINY_LIMIT) for s in (0, 1)
    ]
    assert all(r["label"] == "error" and r["completion"] for r in rows)
    summary = json.loads(RunDir(run_dir).summary.read_text())
    assert summary["status"] == "completed" and summary["questions_done"] == TINY_LIMIT
    assert summary["candidates"]["error"] + summary["duplicates"] == 2 * TINY_LIMIT
    assert summary["pairs"] == {"gold": TINY_LIMIT} and summary["skipped"] == {"gold": {}}
    vote = summary["vote"]  # every tiny-model sample fails: no voted answer is right
    assert (vote["questions"], vote["voted_correct"], vote["any_correct"]) == (TINY_LIMIT, 0, 0)
    assert (vote["n"], vote["samples"], vote["maj_at_n"]) == (2, 2 * TINY_LIMIT, 0.0)
    metrics = [json.loads(line) for line in RunDir(run_dir).metrics.read_text().splitlines()]
    assert [m["questions_done"] for m in metrics] == [2, 4]  # batch_size 2
    assert metrics[-1]["questions_total"] == TINY_LIMIT and metrics[-1]["questions_per_s"] > 0
    assert metrics[-1]["pairs"] == {"gold": TINY_LIMIT} and metrics[-1]["vote"] == vote
    assert [m["vote"]["questions"] for m in metrics] == [2, 4]
    progress = read_jsonl(RunDir(run_dir).progress)
    assert list(dict.fromkeys(r["phase"] for r in progress)) == [LOADING, GENERATING]
    counts = [r["done"] for r in progress if r["phase"] == GENERATING]
    assert counts[0] == 0 and counts[-1] == TINY_LIMIT and counts == sorted(counts)
    assert progress[-1]["total"] == TINY_LIMIT and progress[-1]["unit"] == "questions"


def test_a_finished_run_mined_again_generates_nothing(mined: tuple[Workspace, Path]) -> None:
    ws, run_dir = mined
    before = (
        store_rows(ws, "SELECT count(*) FROM pair_candidates")[0][0],
        store_rows(ws, "SELECT count(*) FROM pairs")[0][0],
    )
    summary = mine(ws, run_dir, read_config(run_dir))
    assert summary["questions_generated_now"] == 0 and summary["questions_done"] == TINY_LIMIT
    after = (
        store_rows(ws, "SELECT count(*) FROM pair_candidates")[0][0],
        store_rows(ws, "SELECT count(*) FROM pairs")[0][0],
    )
    assert after == before
    with pytest.raises(StudioError, match="other settings.*n=2"):
        mine(ws, run_dir, dataclasses.replace(read_config(run_dir), n=3))


def test_rebuilding_under_onpolicy_counts_questions_without_a_correct_sample(
    mined: tuple[Workspace, Path],
) -> None:
    ws, run_dir = mined
    counts = rebuild_pairs(ws, run_dir, "onpolicy")
    assert counts["skipped"]["onpolicy"] == {"no_correct_candidate": TINY_LIMIT}
    assert counts["pairs"] == {"gold": TINY_LIMIT}
    assert rebuild_pairs(ws, run_dir, "onpolicy") == counts


def test_skipped_questions_are_counted_by_reason(demo_ws: Workspace, tiny_qwen2_dir: Path) -> None:
    rows = json.loads((demo_ws.datasets_dir / "demo_train.json").read_text())[:3]
    rows[1]["db_id"] = "atlantis"
    rows[2]["output"] = "SELECT x FROM nowhere"
    database = database_ref(demo_ws, "demo_train", "concert_singer")
    register_dataset(
        demo_ws,
        "mixed",
        rows,
        "sft",
        DatasetMeta(dialect="sqlite", databases={"concert_singer": database}),
    )
    config = tiny_mining_config(tiny_qwen2_dir, dataset="mixed", limit=None)
    run_dir = demo_ws.new_run_dir("pairs")
    write_config(run_dir, config)
    summary = mine(demo_ws, run_dir, config)
    assert summary["questions_total"] == 3 and summary["questions_usable"] == 2
    assert summary["skipped"] == {"gold": {"no_database": 1, "gold_error": 1}}
    assert summary["pairs"] == {"gold": 1}
    assert set(summary["candidates"]) == {
        "error",
        "gold_error",
    }  # the broken gold's samples cannot be judged
    assert sum(summary["candidates"].values()) + summary["duplicates"] == 4


def test_killed_generation_resumes_without_loss_or_duplicates(
    demo_ws: Workspace,
    tiny_qwen2_dir: Path,
    studio_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    questions = 8
    started = studio_cli(
        demo_ws,
        "pairs",
        "generate",
        "--model",
        str(tiny_qwen2_dir),
        "--dataset",
        "demo_train",
        "--n",
        "2",
        "--limit",
        str(questions),
        "--batch-size",
        "1",
        "--max-new-tokens",
        "12",
        "--detach",
    )
    job_id = int(started.stdout.split()[1])
    job = get_job(demo_ws, job_id)
    run_id = job.run_dir.name
    deadline = time.monotonic() + 240
    answered = 0
    while answered < 2:
        assert time.monotonic() < deadline, (
            f"no batches stored in time; log:\n{job.log_path.read_text()}"
        )
        time.sleep(0.05)
        answered = store_rows(
            demo_ws,
            "SELECT count(DISTINCT question_index) FROM pair_candidates WHERE run_id = ?",
            (run_id,),
        )[0][0]
    os.kill(get_job(demo_ws, job_id).pid, signal.SIGKILL)
    killed = wait(demo_ws, job_id)
    assert killed.state == "failed"
    kept = store_rows(
        demo_ws,
        "SELECT question_index, sample, completion FROM pair_candidates WHERE run_id = ?",
        (run_id,),
    )
    assert 2 <= len({r["question_index"] for r in kept}) < questions, "the kill must land halfway"

    resumed = studio_cli(demo_ws, "pairs", "generate", "--resume", run_id)
    assert "succeeded" in resumed.stderr
    rows = store_rows(
        demo_ws,
        "SELECT question_index, sample, completion FROM pair_candidates WHERE run_id = ? "
        "ORDER BY question_index, sample",
        (run_id,),
    )
    assert [(r["question_index"], r["sample"]) for r in rows] == [
        (q, s) for q in range(questions) for s in (0, 1)
    ]
    assert {tuple(r) for r in kept} <= {
        tuple(r) for r in rows
    }  # nothing generated before the kill was replaced
    outcomes = store_rows(
        demo_ws,
        "SELECT question_index, outcome, pairs FROM pair_questions WHERE run_id = ?",
        (run_id,),
    )
    assert sorted(r["question_index"] for r in outcomes) == list(range(questions))
    pairs = store_rows(
        demo_ws,
        "SELECT question_index, chosen_sql, rejected_sql FROM pairs WHERE run_id = ?",
        (run_id,),
    )
    assert (
        len(pairs)
        == sum(r["pairs"] for r in outcomes)
        == len({tuple(p) for p in pairs})
        == questions
    )
    summary = json.loads(RunDir(job.run_dir).summary.read_text())
    assert summary["status"] == "completed" and summary["questions_done"] == questions
    assert 0 < summary["questions_generated_now"] < questions
    assert summary["vote"]["questions"] == questions  # those settled before the kill too
    assert f"maj@2 0.0% (0/{questions})" in resumed.stdout + resumed.stderr


def test_rebuilding_reuses_the_stored_verification_instead_of_executing_again(
    mined: tuple[Workspace, Path],
) -> None:
    ws, run_dir = mined
    first = store_rows(
        ws,
        "SELECT sample FROM pair_candidates WHERE run_id = ? AND question_index = 0 "
        "AND duplicate_of IS NULL ORDER BY sample LIMIT 1",
        (run_dir.name,),
    )[0]["sample"]
    # relabel one stored candidate: executing it again would label it "error" like every
    # tiny-model answer
    with writing(ws) as conn:
        conn.execute(
            "UPDATE pair_candidates SET label = 'correct' WHERE run_id = ? AND question_index = 0 "
            "AND sample = ?",
            (run_dir.name, first),
        )
    counts = rebuild_pairs(ws, run_dir, "onpolicy")
    assert counts["pairs"] == {"gold": TINY_LIMIT, "onpolicy": 1}
    [pair] = store_rows(
        ws,
        "SELECT question_index, chosen_origin, chosen_label FROM pairs WHERE strategy = 'onpolicy'",
    )
    assert (pair["question_index"], pair["chosen_origin"], pair["chosen_label"]) == (
        0,
        f"sample:{first}",
        "correct",
    )
