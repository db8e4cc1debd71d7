"""Scoring-only evaluation: gold as predictions, mixed right/wrong/erroneous SQL checked against
an independent sqlite3 computation, breakdowns, the bootstrap interval, bad predictions files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from studio.data.registry import database_ref, load_examples
from studio.errors import StudioError
from studio.evaluate import score_predictions
from studio.evaluate.statistics import bootstrap_ci95
from studio.jobs.runtime import read_jsonl


def test_gold_sql_of_spiderman_test_scores_100(spiderman_ws, jsonl_file, tmp_path: Path) -> None:
    examples = load_examples(spiderman_ws, "spiderman")
    assert len(examples) == 103
    predictions = jsonl_file(
        "gold.jsonl", ({"question_id": e.question_id, "sql": e.gold_sql} for e in examples)
    )
    summary = score_predictions(
        spiderman_ws, "spiderman", predictions, out_dir=tmp_path / "run", workers=1, bars=False
    )
    assert (summary["ex"], summary["n"], summary["correct"]) == (100.0, 103, 103)
    assert summary["ex_ci95"] == [100.0, 100.0]
    assert summary["categories"] == {"correct": 103}
    assert sum(group["n"] for group in summary["by_database"].values()) == 103
    assert len(summary["by_database"]) == 3
    assert len(read_jsonl(tmp_path / "run" / "verdicts.jsonl")) == 103
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == summary


def _run(db_path: str, sql: str) -> list[tuple] | str:
    """Rows of `sql` on a read-only copy of the database, or the sqlite3 error text."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [tuple(row) for row in connection.execute(sql).fetchall()]
    except sqlite3.Error as error:
        return str(error)
    finally:
        connection.close()


def _mixed_prediction(position: int, gold: str) -> str:
    """Right, wrong-or-right (decided by execution), syntax error, unknown table, or a write."""
    return [
        gold,
        f"SELECT * FROM ({gold}) LIMIT 1",
        f"SELEC {gold[len('SELECT') :]}",
        "SELECT name FROM no_such_table",
        "DELETE FROM singer",
        f"SELECT COUNT(*) FROM ({gold})",
    ][position % 6]


def test_mixed_predictions_match_an_independent_sqlite3_computation(
    demo_ws, jsonl_file, tmp_path: Path
) -> None:
    examples = load_examples(demo_ws, "demo_test")
    predictions = {e.index: _mixed_prediction(e.index, e.gold_sql) for e in examples}
    path = jsonl_file("mixed.jsonl", ({"index": i, "sql": sql} for i, sql in predictions.items()))
    summary = score_predictions(
        demo_ws, "demo_test", path, out_dir=tmp_path / "run", workers=2, rule="set", bars=False
    )

    expected = {}
    for example in examples:
        db = database_ref(demo_ws, "demo_test", example.db_id)
        gold, pred = _run(db, example.gold_sql), _run(db, predictions[example.index])
        assert isinstance(gold, list)
        if predictions[example.index].startswith("DELETE"):
            expected[example.index] = "pred_refused"
        elif isinstance(pred, str):
            expected[example.index] = "pred_error"
        else:
            expected[example.index] = "correct" if set(pred) == set(gold) else "wrong_result"
    verdicts = {row["index"]: row for row in read_jsonl(tmp_path / "run" / "verdicts.jsonl")}
    assert {i: row["category"] for i, row in verdicts.items()} == expected
    correct = sum(category == "correct" for category in expected.values())
    assert summary["correct"] == correct
    assert summary["ex"] == round(100 * correct / len(examples), 2)
    assert summary["categories"] == {
        c: n
        for c in ("correct", "wrong_result", "pred_error", "pred_refused")
        if (n := list(expected.values()).count(c))
    }
    assert 0 < summary["ex"] < 100  # the mix really is mixed

    # breakdowns add up and agree with the verdicts
    for field, key in (("by_difficulty", "difficulty"), ("by_database", "db_id")):
        groups = summary[field]
        assert sum(g["n"] for g in groups.values()) == summary["n"] == len(examples)
        assert sum(g["correct"] for g in groups.values()) == summary["correct"]
        for name, group in groups.items():
            members = [row for row in verdicts.values() if row[key] == name]
            assert group == {
                "n": len(members),
                "correct": sum(r["correct"] for r in members),
                "ex": round(100 * sum(r["correct"] for r in members) / len(members), 2),
            }
    assert list(summary["by_difficulty"]) == ["simple", "moderate", "challenging"]
    low, high = summary["ex_ci95"]
    assert low < summary["ex"] < high


def test_auto_rule_orders_only_when_gold_has_order_by(demo_ws, jsonl_file, tmp_path: Path) -> None:
    examples = load_examples(demo_ws, "demo_test")
    candidates = []
    for example in examples:
        if " ORDER BY " not in example.gold_sql.upper() or " LIMIT " in example.gold_sql.upper():
            continue
        reversed_sql = f"SELECT * FROM ({example.gold_sql}) ORDER BY 1 DESC"
        db = database_ref(demo_ws, "demo_test", example.db_id)
        gold, pred = _run(db, example.gold_sql), _run(db, reversed_sql)
        if set(gold) == set(pred) and gold != pred:
            candidates.append((example, reversed_sql))
    assert candidates, "demo_test needs an ORDER BY question whose rows can be reordered"
    example, reversed_sql = candidates[0]
    path = jsonl_file("ordered.jsonl", [{"index": example.index, "sql": reversed_sql}])
    auto = score_predictions(
        demo_ws, "demo_test", path, out_dir=tmp_path / "auto", workers=1, bars=False
    )
    set_rule = score_predictions(
        demo_ws, "demo_test", path, out_dir=tmp_path / "set", workers=1, rule="set", bars=False
    )
    assert auto["categories"] == {"wrong_result": 1} and auto["rule"] == "auto"
    assert set_rule["categories"] == {"correct": 1} and set_rule["rule"] == "set"
    assert read_jsonl(tmp_path / "auto" / "verdicts.jsonl")[0]["order_matters"] is True


def test_bootstrap_interval_is_deterministic_and_brackets_ex() -> None:
    verdicts = [i % 3 != 0 for i in range(300)]  # EX 66.67
    first, second = bootstrap_ci95(verdicts), bootstrap_ci95(verdicts)
    assert first == second
    assert 60 < first[0] < 66.67 < first[1] < 73
    assert bootstrap_ci95([True] * 5) == [100.0, 100.0]
    assert bootstrap_ci95([]) == [0.0, 0.0]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [
                '{"question_id": 36, "sql": "SELECT 1"}',
                '{"question_id": 999999, "sql": "SELECT 1"}',
            ],
            "line 2: unknown question_id 999999",
        ),
        (['{"question_id": 36}'], "line 1: missing field 'sql'"),
        (['{"sql": "SELECT 1"}'], "line 1: missing field 'question_id' (or 'index'"),
        (
            ['{"question_id": 36, "sql": "SELECT 1"}', '{"index": 0, "sql": "SELECT 2"}'],
            "line 2: question index 0 (question_id 36) already predicted on line 1",
        ),
        (
            ['{"index": 48, "sql": "SELECT 1"}'],
            "line 1: field 'index' must be an integer from 0 to 47, not 48",
        ),
        (
            ['{"question_id": 36, "index": 1, "sql": "SELECT 1"}'],
            "question_id 36 is row 0, but 'index' says 1",
        ),
        (['{"question_id": 36, "sql": 5}'], "line 1: field 'sql' must be a string, not int"),
        (['{"question_id": 36, "sql": "SELECT 1"', "[1, 2]"], "line 1: not valid JSON"),
        ([""], "holds no predictions"),
    ],
)
def test_bad_predictions_files_are_clear_errors(
    demo_ws, tmp_path: Path, lines: list[str], message: str
) -> None:
    assert load_examples(demo_ws, "demo_test")[0].question_id == 36
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(StudioError) as error:
        score_predictions(demo_ws, "demo_test", path, out_dir=tmp_path / "run", bars=False)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert not (tmp_path / "run").exists()  # nothing written for a bad file


def test_all_bad_lines_are_listed_at_once(demo_ws, jsonl_file, tmp_path: Path) -> None:
    path = jsonl_file(
        "bad.jsonl",
        [
            {"question_id": 1, "sql": "SELECT 1"},
            {"question_id": 36, "sql": "SELECT 1"},
            {"index": -1},
        ],
    )
    with pytest.raises(StudioError, match="2 bad prediction line") as error:
        score_predictions(demo_ws, "demo_test", path, bars=False)
    assert "line 1: unknown question_id 1" in str(error.value)
    assert "line 3: missing field 'sql'" in str(error.value)


def test_unknown_dataset_and_missing_file_are_clear_errors(demo_ws, tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="no dataset 'nope'"):
        score_predictions(demo_ws, "nope", tmp_path / "p.jsonl", bars=False)
    with pytest.raises(StudioError, match="predictions file not found"):
        score_predictions(demo_ws, "demo_test", tmp_path / "p.jsonl", bars=False)
