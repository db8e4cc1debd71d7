"""Parallel scoring: every SpiderMan test gold of the slice scored against itself, and BIRD's own
rule (bench/bench_scoring.py checks all 1,034 test golds of a full SpiderMan copy)."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

from studio.sql.score import ScoreItem, Verdict, execution_accuracy, score, scoring_pool


def test_every_spiderman_test_gold_of_the_slice_scores_itself(
    spiderman_test_queries: list[dict[str, str]], spiderman_sqlite_dir: Path
) -> None:
    rows = spiderman_test_queries
    items = [
        ScoreItem(str(i), spiderman_sqlite_dir / f"{r['database']}.sqlite", r["sql"], r["sql"])
        for i, r in enumerate(rows)
    ]
    seen = []
    verdicts = score(items, workers=2, timeout_s=30.0, progress=seen.append)
    assert len(verdicts) == len(items) == 103
    assert sum(seen) == 103
    assert [v.key for v in verdicts] == [item.key for item in items]
    assert [v.category for v in verdicts if not v.correct] == []
    assert execution_accuracy(verdicts) == 100.0
    assert sum(v.gold.row_count == 0 for v in verdicts) == 4  # 2 of concert_singer's, 2 of pets_1's


def bird_execution_match(db_path: Path, predicted_sql: str, ground_truth: str) -> int:
    """BIRD's published EX rule, as its evaluator (evaluation.py `execute_sql`) runs it."""
    conn = sqlite3.connect(db_path)
    cursor = conn.cursor()
    cursor.execute(predicted_sql)
    predicted_res = cursor.fetchall()
    cursor.execute(ground_truth)
    ground_truth_res = cursor.fetchall()
    res = 0
    if set(predicted_res) == set(ground_truth_res):
        res = 1
    conn.close()
    return res


def bird_reference(db_path: Path, predicted_sql: str, ground_truth: str) -> int:
    """BIRD scores a prediction that fails to run as 0."""
    try:
        return bird_execution_match(db_path, predicted_sql, ground_truth)
    except sqlite3.Error:
        return 0


GOLD_ORDERED = "SELECT name, age FROM singer ORDER BY age DESC"
MIXED_PREDICTIONS = [
    # (gold, prediction)
    ("SELECT COUNT(*) FROM singer", "SELECT count(*) FROM singer"),
    ("SELECT COUNT(*) FROM singer", "SELECT COUNT(*) FROM singer WHERE age > 30"),
    ("SELECT name, age FROM singer", "SELECT age, name FROM singer"),  # reordered columns
    ("SELECT name, age FROM singer", "SELECT name, age FROM singer ORDER BY name"),
    ("SELECT name FROM singer WHERE age > 30", "SELECT name FROM singer"),  # extra rows
    ("SELECT country FROM singer", "SELECT DISTINCT country FROM singer"),  # duplicates
    (
        "SELECT DISTINCT country FROM singer",
        "SELECT country FROM singer UNION ALL SELECT country FROM singer",
    ),
    (GOLD_ORDERED, "SELECT name, age FROM singer ORDER BY age ASC"),  # different ORDER BY
    (GOLD_ORDERED, "SELECT name, age FROM singer ORDER BY age DESC"),
    (
        "SELECT name FROM singer WHERE age > 100",
        "SELECT name FROM singer WHERE age < 0",
    ),  # both empty
    ("SELECT NULL", "SELECT NULL"),  # NULL handling
    ("SELECT NULL", "SELECT ''"),
    ("SELECT MAX(age) FROM singer WHERE country = 'Nowhere'", "SELECT NULL"),
    ("SELECT AVG(age) FROM singer", "SELECT SUM(age) * 1.0 / COUNT(*) FROM singer"),
    ("SELECT AVG(age) FROM singer", "SELECT SUM(age) / COUNT(*) FROM singer"),  # integer division
    ("SELECT name FROM singer", "SELECT nam FROM singer"),  # pred error
    ("SELECT name FROM singer", "SELEC name FROM singer"),  # pred syntax error
    ("SELECT 1", "SELECT 1.0"),  # BIRD: 1 == 1.0 in Python sets
    ("SELECT 'France'", "SELECT 'france'"),
]


def test_a_prediction_with_the_golds_text_takes_the_golds_result(
    concert_singer_sqlite: Path,
) -> None:
    gold = "SELECT random()"  # two runs differ: a second run would make a wrong result
    same, rerun = score(
        [
            ScoreItem("same", concert_singer_sqlite, gold, gold),
            ScoreItem("rerun", concert_singer_sqlite, gold, "SELECT  random()"),
        ],
        workers=1,
    )
    assert same.category == "correct" and same.pred.first_rows == same.gold.first_rows
    assert rerun.category == "wrong_result"


def test_verdicts_agree_with_birds_rule(concert_singer_sqlite: Path) -> None:
    items = [
        ScoreItem(f"q{i}", concert_singer_sqlite, gold, pred, order_matters=False)
        for i, (gold, pred) in enumerate(MIXED_PREDICTIONS)
    ]
    verdicts = score(items, workers=1, timeout_s=10.0)
    ours = [int(v.correct) for v in verdicts]
    bird = [bird_reference(concert_singer_sqlite, pred, gold) for gold, pred in MIXED_PREDICTIONS]
    assert ours == bird
    assert 0 < sum(ours) < len(ours)  # the set holds both right and wrong predictions
    categories = {v.category for v in verdicts}
    assert categories == {"correct", "wrong_result", "pred_error"}


def test_order_aware_rule_follows_gold_order_by(concert_singer_sqlite: Path) -> None:
    reversed_pred = "SELECT name, age FROM singer ORDER BY age ASC"
    items = [
        ScoreItem(
            "ordered", concert_singer_sqlite, GOLD_ORDERED, reversed_pred
        ),  # decided from gold
        ScoreItem("bird", concert_singer_sqlite, GOLD_ORDERED, reversed_pred, order_matters=False),
        ScoreItem(
            "unordered", concert_singer_sqlite, "SELECT name, age FROM singer", reversed_pred
        ),
    ]
    verdicts: list[Verdict] = score(items, workers=1)
    assert [(v.order_matters, v.correct) for v in verdicts] == [
        (True, False),
        (False, True),
        (False, True),
    ]


def test_categories_for_failures(concert_singer_sqlite: Path) -> None:
    forever = (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
    )
    items = [
        ScoreItem("timeout", concert_singer_sqlite, "SELECT 1", forever),
        ScoreItem("refused", concert_singer_sqlite, "SELECT 1", "DELETE FROM singer"),
        ScoreItem("gold", concert_singer_sqlite, "SELECT * FROM missing", "SELECT 1"),
    ]
    verdicts = score(items, workers=1, timeout_s=0.5)
    assert [v.category for v in verdicts] == ["pred_timeout", "pred_refused", "gold_error"]
    assert verdicts[2].gold.error_kind == "unknown_table"
    assert not any(v.correct for v in verdicts)


def test_scoring_workers_outlive_a_cancel_signal() -> None:
    """A cancel SIGTERMs the job's process group while its scoring may run: the workers must
    keep going (the job stops at its next safe point), not break the pool."""
    with scoring_pool(1) as pool:
        worker = pool.submit(os.getpid).result()
        os.kill(worker, signal.SIGTERM)
        assert pool.submit(os.getpid).result() == worker
