"""The generation pipeline with a tiny random model: run folder contents, progress, resuming an
interrupted run without regenerating, refusing to mix runs, and comparing runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from studio.data.registry import load_examples
from studio.errors import StudioError
from studio.evaluate import compare_runs, evaluate, score_predictions
from studio.jobs.runtime import read_jsonl

FAST = {"batch_size": 2, "max_new_tokens": 4, "workers": 1, "bars": False}


def test_interrupted_run_resumes_without_regenerating(
    demo_ws, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    stopped = evaluate(
        demo_ws,
        "demo_test",
        model=str(tiny_qwen2_dir),
        limit=6,
        out_dir=out,
        should_stop=lambda: True,
        **FAST,
    )
    assert stopped == {"stopped": True, "out_dir": str(out), "total": 6, "predicted": 2}
    first_lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(first_lines) == 2 and not (out / "summary.json").exists()
    with open(out / "predictions.jsonl", "a") as handle:  # a crash in the middle of a write
        handle.write('{"index": 5, "question_id": 4')

    records: list[dict] = []
    summary = evaluate(
        demo_ws,
        "demo_test",
        model=str(tiny_qwen2_dir),
        limit=6,
        out_dir=out,
        progress=records.append,
        **FAST,
    )
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert lines[:2] == first_lines  # kept as generated, not regenerated
    assert sorted(r["index"] for r in read_jsonl(out / "predictions.jsonl")) == list(range(6))
    assert summary["timings"]["resumed"] == 2 and summary["timings"]["generated"] == 4
    assert summary["n"] == 6
    generation = [r for r in records if r["phase"] == "generation" and not r.get("partial")]
    assert [r["done"] for r in generation] == [4, 6] and all(r["total"] == 6 for r in generation)
    assert records[-1] == {"phase": "scoring", "done": 6, "total": 6}

    again = evaluate(demo_ws, "demo_test", model=str(tiny_qwen2_dir), limit=6, out_dir=out, **FAST)
    assert again["timings"]["generated"] == 0 and again["timings"]["load_s"] == 0.0
    assert (out / "predictions.jsonl").read_text().splitlines() == lines


def test_run_folder_holds_predictions_verdicts_and_summary(
    demo_ws, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    examples = load_examples(demo_ws, "demo_test")[:3]
    summary = evaluate(
        demo_ws, "demo_test", model=str(tiny_qwen2_dir), limit=3, out_dir=tmp_path / "run", **FAST
    )
    run = tmp_path / "run"
    predictions = sorted(read_jsonl(run / "predictions.jsonl"), key=lambda r: r["index"])
    assert [(p["index"], p["question_id"], p["db_id"]) for p in predictions] == [
        (e.index, e.question_id, e.db_id) for e in examples
    ]
    assert all(isinstance(p["output"], str) and isinstance(p["sql"], str) for p in predictions)
    verdicts = read_jsonl(run / "verdicts.jsonl")
    assert [v["index"] for v in verdicts] == [0, 1, 2]
    assert [v["gold_sql"] for v in verdicts] == [e.gold_sql for e in examples]
    assert [v["pred_sql"] for v in verdicts] == [p["sql"] for p in predictions]
    assert all(v["gold"]["ok"] and v["gold"]["row_count"] > 0 for v in verdicts)
    assert summary["model"] == str(tiny_qwen2_dir) and summary["adapters"] == []
    assert summary["dataset"] == "demo_test" and summary["mode"] == "generate"
    assert summary["n"] == 3 and 0.0 <= summary["ex"] <= 100.0
    assert set(summary["timings"]) >= {"generation_s", "questions_per_s", "scoring_s"}
    assert summary["timings"]["questions_per_s"] > 0


def test_a_run_folder_of_another_evaluation_is_refused(
    demo_ws, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    evaluate(demo_ws, "demo_test", model=str(tiny_qwen2_dir), limit=1, out_dir=out, **FAST)
    with pytest.raises(
        StudioError, match="holds another evaluation .*dataset: 'demo_test' there, 'demo_train' now"
    ):
        evaluate(demo_ws, "demo_train", model=str(tiny_qwen2_dir), limit=1, out_dir=out, **FAST)
    assert len(read_jsonl(out / "predictions.jsonl")) == 1


def test_compare_runs_puts_breakdowns_side_by_side(demo_ws, jsonl_file, tmp_path: Path) -> None:
    examples = load_examples(demo_ws, "demo_test")
    gold = jsonl_file("gold.jsonl", ({"index": e.index, "sql": e.gold_sql} for e in examples))
    wrong = {0: "SELEC 0", 2: "SELECT 0"}  # every second answer wrong: fails to run, or runs
    half = jsonl_file(
        "half.jsonl",
        ({"index": e.index, "sql": wrong.get(e.index % 4, e.gold_sql)} for e in examples),
    )
    first = score_predictions(
        demo_ws, "demo_test", gold, out_dir=tmp_path / "a", workers=1, bars=False
    )
    second = score_predictions(
        demo_ws, "demo_test", half, out_dir=tmp_path / "b", workers=1, bars=False
    )
    table = compare_runs([tmp_path / "a", tmp_path / "b"])
    rows = {row[0]: row[1:] for row in table.rows}
    assert len(table.columns) == 3
    assert rows["EX (%)"] == [first["ex"], second["ex"]] == [100.0, second["ex"]]
    assert rows["questions"] == [48, 48]
    for name, group in second["by_difficulty"].items():
        assert rows[f"difficulty: {name}"] == [100.0, group["ex"]]
    for name, group in second["by_database"].items():
        assert rows[f"database: {name}"] == [100.0, group["ex"]]
    # Spider's hardness of each gold query: every question labelled, each level side by side
    assert set(second["by_hardness"]) <= {"easy", "medium", "hard", "extra"}
    assert sum(group["n"] for group in second["by_hardness"].values()) == 48
    for name, group in second["by_hardness"].items():
        assert rows[f"hardness: {name}"] == [100.0, group["ex"]]
    # paired against the first run: the questions "half" gets wrong are exactly the ones it lost
    lost = sum(1 for e in examples if not e.index % 2)
    assert rows["EX - first run (paired)"] == [None, round(second["ex"] - 100.0, 2)]
    assert rows["right only here / only in first"] == [None, f"0 / {lost}"]
    assert 0 < rows["McNemar p"][1] < 0.0001
    assert rows["decoding"] == [None, None]  # scored prediction files generated nothing
    assert rows["answers: right"] == [48, 48 - lost]
    failed = sum(1 for e in examples if e.index % 4 == 0)
    assert rows["answers: SQL error"] == [0, failed]
    assert rows["answers: wrong result"] == [0, lost - failed]
    assert "answers: timed out" not in rows  # no run had one
    text = table.to_text()
    assert "database: library" in text and "100.00" in text
    assert re.search(r"McNemar p\s+-\s+< 0\.0001", text)
    with pytest.raises(StudioError, match="holds no summary.json"):
        compare_runs([tmp_path / "a", tmp_path])


def test_compare_runs_shows_how_each_run_decoded(demo_ws, jsonl_file, tmp_path: Path) -> None:
    """Greedy EX moves with the decode batch, so the table says each run's engine and batch."""
    examples = load_examples(demo_ws, "demo_test")
    gold = jsonl_file("gold.jsonl", ({"index": e.index, "sql": e.gold_sql} for e in examples))
    score_predictions(demo_ws, "demo_test", gold, out_dir=tmp_path / "a", workers=1, bars=False)
    for name, batch in (("b1034", 1034), ("b128", 128)):
        shutil.copytree(tmp_path / "a", tmp_path / name)
        summary_path = tmp_path / name / "summary.json"
        summary = json.loads(summary_path.read_text())
        summary.update(mode="generate", engine="prefix", batch_size=batch, max_new_tokens=256)
        summary_path.write_text(json.dumps(summary))
    table = compare_runs([tmp_path / "b1034", tmp_path / "b128", tmp_path / "a"])
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["decoding"] == [
        "prefix, batch 1034, up to 256 tokens",
        "prefix, batch 128, up to 256 tokens",
        None,
    ]
    assert "prefix, batch 128, up to 256 tokens" in table.to_text()


def test_progress_reports_loading_then_answers_as_they_finish_then_scoring(
    demo_ws, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    records: list[dict] = []
    evaluate(
        demo_ws,
        "demo_test",
        model=str(tiny_qwen2_dir),
        limit=3,
        out_dir=tmp_path / "run",
        progress=records.append,
        **{**FAST, "batch_size": 3},
    )
    phases = [r["phase"] for r in records]
    assert phases[0] == "loading" and phases[-1] == "scoring"
    assert list(dict.fromkeys(phases)) == ["loading", "generation", "scoring"]
    answered = [r["done"] for r in records if r.get("partial")]
    assert answered[0] == 0 and answered[-1] == 3 and answered == sorted(answered)
    saved = [r for r in records if r["phase"] == "generation" and not r.get("partial")]
    assert [r["done"] for r in saved] == [3]  # one batch of 3, saved once
    assert records[-1]["done"] == records[-1]["total"] == 3
