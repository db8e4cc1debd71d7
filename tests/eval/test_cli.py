"""`python -m studio eval` in a subprocess: scoring a file, generating as a job, comparing,
errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from studio.data.registry import load_examples
from studio.jobs import list_jobs
from studio.jobs.runtime import read_jsonl

REPO_ROOT = Path(__file__).resolve().parents[2]


def studio(*args: str, workspace: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", "eval", *args, "--workspace", str(workspace)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_scoring_a_file_prints_the_json_summary(demo_ws, jsonl_file, tmp_path: Path) -> None:
    examples = load_examples(demo_ws, "demo_test")
    path = jsonl_file(
        "p.jsonl", ({"question_id": e.question_id, "sql": e.gold_sql} for e in examples[:10])
    )
    result = studio(
        "--dataset",
        "demo_test",
        "--predictions",
        str(path),
        "--out",
        str(tmp_path / "run"),
        "--workers",
        "1",
        workspace=demo_ws.root,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["ex"] == 100.0 and summary["n"] == 10 and summary["dataset_questions"] == 48
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == summary

    compared = studio(
        "--compare", str(tmp_path / "run"), str(tmp_path / "run"), "--json", workspace=demo_ws.root
    )
    assert compared.returncode == 0, compared.stderr
    table = json.loads(compared.stdout)
    assert ["EX (%)", 100.0, 100.0] in table["rows"]


def test_generation_runs_as_a_job_and_prints_the_summary(
    demo_ws, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = studio(
        "--model",
        str(tiny_qwen2_dir),
        "--dataset",
        "demo_test",
        "--limit",
        "3",
        "--batch-size",
        "3",
        "--max-new-tokens",
        "4",
        "--workers",
        "1",
        "--vote",
        "2",
        "--out",
        str(out),
        workspace=demo_ws.root,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["vote"]["samples"] == 2 and summary["vote"]["n"] == 3
    assert f"EX voted over 2 samples {summary['vote']['ex']:.2f}%" in result.stderr
    assert (
        summary["n"] == 3
        and 0.0 <= summary["ex"] <= 100.0
        and summary["model"] == str(tiny_qwen2_dir)
    )
    assert "generation: 3/3" in result.stderr  # the job's log, followed
    metrics = read_jsonl(out / "metrics.jsonl")
    assert (
        metrics[0]["phase"] == "generation"
        and metrics[0]["done"] == 3
        and metrics[0]["questions_per_s"] > 0
    )
    assert metrics[-1]["phase"] == "done" and metrics[-1]["ex"] == summary["ex"]
    assert metrics[-1]["ex_voted"] == summary["vote"]["ex"]
    compared = studio("--compare", str(out), "--json", workspace=demo_ws.root)
    rows = json.loads(compared.stdout)["rows"]
    assert ["EX voted (%)", summary["vote"]["ex"]] in rows
    jobs = list_jobs(demo_ws, kind="eval")
    assert [(job.state, job.run_dir, job.uses_gpu) for job in jobs] == [
        ("succeeded", out.resolve(), True)
    ]


def test_bad_input_exits_2_with_a_clear_message(demo_ws, jsonl_file, tmp_path: Path) -> None:
    path = jsonl_file("p.jsonl", [{"question_id": 123456, "sql": "SELECT 1"}])
    result = studio("--dataset", "demo_test", "--predictions", str(path), workspace=demo_ws.root)
    assert result.returncode == 2 and result.stdout == ""
    assert "line 1: unknown question_id 123456" in result.stderr

    mixed = studio(
        "--dataset", "demo_test", "--predictions", str(path), "--model", "x", workspace=demo_ws.root
    )
    assert mixed.returncode == 2 and "drop --model" in mixed.stderr

    missing = studio("--compare", str(tmp_path), workspace=demo_ws.root)
    assert missing.returncode == 2 and "not a finished evaluation run" in missing.stderr

    no_dataset = studio("--limit", "3", workspace=demo_ws.root)
    assert no_dataset.returncode == 2 and "--dataset NAME" in no_dataset.stderr
