"""LLaMA-Factory's generated_predictions.jsonl: written beside the studio's predictions, and
accepted by `eval --predictions` (line N answering dataset row N)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.data.registry import load_examples
from studio.errors import StudioError
from studio.evaluate import score_predictions
from studio.jobs.runtime import read_jsonl


def lf_line(prompt: str, predict: str, label: str) -> dict[str, str]:
    return {"prompt": prompt, "predict": predict, "label": label}


def test_a_scored_run_writes_generated_predictions_that_score_the_same_again(
    demo_ws, jsonl_file, tmp_path: Path
) -> None:
    examples = load_examples(demo_ws, "demo_test")
    wrong = {1, 4}
    path = jsonl_file(
        "mine.jsonl",
        (
            {"index": e.index, "sql": "SELECT 1" if e.index in wrong else e.gold_sql}
            for e in examples
        ),
    )
    first = score_predictions(demo_ws, "demo_test", path, out_dir=tmp_path / "a", bars=False)
    written = read_jsonl(tmp_path / "a" / "generated_predictions.jsonl")
    assert [line["label"] for line in written] == [e.gold_sql for e in examples]
    assert [line["prompt"] for line in written] == [e.prompt for e in examples]
    assert written[1]["predict"] == "SELECT 1" and written[0]["predict"] == examples[0].gold_sql

    again = score_predictions(
        demo_ws,
        "demo_test",
        tmp_path / "a" / "generated_predictions.jsonl",
        out_dir=tmp_path / "b",
        bars=False,
    )
    assert (again["n"], again["correct"]) == (first["n"], first["correct"])
    assert first["correct"] == len(examples) - len(wrong)


def test_llamafactory_replies_are_extracted_and_a_short_file_scores_the_first_rows(
    demo_ws, jsonl_file, tmp_path: Path
) -> None:
    examples = load_examples(demo_ws, "demo_test")[:3]
    path = jsonl_file(
        "generated_predictions.jsonl",
        (
            lf_line(e.prompt, f"<think>\n\n</think>\n\n```sql\n{e.gold_sql};\n```", e.gold_sql)
            for e in examples
        ),
    )
    summary = score_predictions(demo_ws, "demo_test", path, out_dir=tmp_path / "r", bars=False)
    assert (summary["n"], summary["correct"]) == (3, 3)
    verdicts = read_jsonl(tmp_path / "r" / "verdicts.jsonl")
    assert [v["pred_sql"] for v in verdicts] == [e.gold_sql for e in examples]


def test_labels_of_another_dataset_are_refused(demo_ws, jsonl_file) -> None:
    examples = load_examples(demo_ws, "demo_test")
    path = jsonl_file(
        "other.jsonl",
        (lf_line(e.prompt, e.gold_sql, "SELECT x FROM other") for e in examples[:2]),
    )
    with pytest.raises(StudioError, match=r"line 1: label 'SELECT x FROM other' is not row 0"):
        score_predictions(demo_ws, "demo_test", path, bars=False)
    too_many = jsonl_file("many.jsonl", (lf_line("p", "SELECT 1", "") for _ in range(999)))
    with pytest.raises(StudioError, match="999 predictions for a dataset of"):
        score_predictions(demo_ws, "demo_test", too_many, bars=False)
    assert json.loads(path.read_text().splitlines()[0])["predict"] == examples[0].gold_sql
