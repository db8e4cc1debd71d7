"""`evaluate(..., vote=N)` with a tiny random model: N samples per question with likelihoods,
a vote per question in the verdicts, EX greedy and voted side by side with their paired
comparison, and an interrupted sampling pass resumed without sampling again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.data.registry import load_examples
from studio.errors import StudioError
from studio.evaluate import EvalConfig, evaluate
from studio.evaluate.statistics import paired_difference
from studio.jobs.runtime import read_jsonl
from studio.sql.score import CATEGORIES

FAST = {"batch_size": 2, "max_new_tokens": 4, "workers": 1, "bars": False}


def test_a_voted_run_reports_greedy_and_voted_ex_side_by_side(
    demo_ws, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    stopped = evaluate(
        demo_ws,
        "demo_test",
        model=str(tiny_qwen2_dir),
        limit=4,
        out_dir=out,
        vote=3,
        should_stop=iter([False, False, True]).__next__,  # two greedy batches, one sampled
        **FAST,
    )
    assert stopped["stopped"] and (stopped["predicted"], stopped["sampled"]) == (4, 2)
    first_samples = (out / "samples.jsonl").read_text().splitlines()

    records: list[dict] = []
    summary = evaluate(
        demo_ws,
        "demo_test",
        model=str(tiny_qwen2_dir),
        limit=4,
        out_dir=out,
        vote=3,
        progress=records.append,
        **FAST,
    )
    assert (out / "samples.jsonl").read_text().splitlines()[:2] == first_samples
    samples = {s["index"]: s for s in read_jsonl(out / "samples.jsonl")}
    assert sorted(samples) == [0, 1, 2, 3]
    for sample in samples.values():
        assert sample["temperature"] == 0.7 and len(sample["outputs"]) == 3
        assert len(sample["sqls"]) == len(sample["logprob_sum"]) == len(sample["logprob_mean"]) == 3
        assert all(value < 0 for value in sample["logprob_sum"])
    assert summary["timings"]["generated"] == 0 and summary["timings"]["sampled"] == 2

    verdicts = read_jsonl(out / "verdicts.jsonl")
    for row in verdicts:
        vote = row["vote"]
        assert vote["n"] == 3 and vote["sql"] == samples[row["index"]]["sqls"][vote["index"]]
        assert 0 <= vote["votes"] <= vote["executed"] <= 3
        assert vote["category"] in CATEGORIES
    voted = summary["vote"]
    greedy_correct = [row["correct"] for row in verdicts]
    voted_correct = [row["vote"]["correct"] for row in verdicts]
    assert (voted["samples"], voted["n"]) == (3, 4)
    assert voted["correct"] == sum(voted_correct) and summary["correct"] == sum(greedy_correct)
    assert voted["ex"] == 100.0 * sum(voted_correct) / 4
    assert voted["vs_greedy"] == paired_difference(greedy_correct, voted_correct)
    phases = [r["phase"] for r in records]
    assert phases.index("sampling") < phases.index("voting") < phases.index("scoring voted")
    assert records[-1] == {"phase": "scoring voted", "done": 4, "total": 4}

    greedy_only = evaluate(
        demo_ws, "demo_test", model=str(tiny_qwen2_dir), limit=4, out_dir=tmp_path / "g", **FAST
    )
    assert "vote" not in greedy_only and greedy_only["ex"] == summary["ex"]


def test_the_vote_answers_with_the_result_most_samples_agree_on(
    demo_ws, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    """Samples already in the run folder are voted on, not sampled again: two of three
    return the gold result (one through a differently written query), so the vote is right."""
    out = tmp_path / "run"
    out.mkdir()
    examples = load_examples(demo_ws, "demo_test")[:3]
    lines = []
    for example in examples:
        gold = example.gold_sql.rstrip("; ")
        sqls = ["SELECT 1 FROM no_such_table", f"SELECT * FROM ({gold}) AS voted", gold]
        lines.append(
            {
                "index": example.index,
                "question_id": example.question_id,
                "db_id": example.db_id,
                "temperature": 0.9,
                "outputs": sqls,
                "sqls": sqls,
                "logprob_sum": [-1.0, -9.0, -8.0],
                "logprob_mean": [-0.1, -0.9, -0.8],
            }
        )
    (out / "samples.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = evaluate(
        demo_ws,
        "demo_test",
        model=str(tiny_qwen2_dir),
        limit=3,
        out_dir=out,
        vote=3,
        vote_temperature=0.9,
        **FAST,
    )
    assert summary["timings"]["sampled"] == 0
    verdicts = read_jsonl(out / "verdicts.jsonl")
    assert [row["vote"]["index"] for row in verdicts] == [2, 2, 2]  # the likelier of the two
    assert all(
        (row["vote"]["votes"], row["vote"]["executed"], row["vote"]["distinct_results"])
        == (2, 2, 1)
        for row in verdicts
    )
    assert summary["vote"]["ex"] == 100.0 and summary["vote"]["mean_agreement"] == 0.6667
    assert summary["vote"]["vs_greedy"]["gained"] == 3 - summary["correct"]


def test_vote_settings_are_checked() -> None:
    with pytest.raises(StudioError, match="vote must be 0 .* or at least 2 samples, not 1"):
        EvalConfig(dataset="demo_test", vote=1)
    with pytest.raises(StudioError, match="vote_temperature must be positive"):
        EvalConfig(dataset="demo_test", vote=4, vote_temperature=0.0)
