"""The real built-in model (Qwen2.5-Coder-0.5B-Instruct) on a few demo questions: a sane EX, and
every verdict reproduces when its SQL is executed again with sqlite3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from studio.data.registry import database_ref
from studio.evaluate import evaluate
from studio.jobs.runtime import read_jsonl


def _rows(db_path: str, sql: str) -> list[tuple] | None:
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [tuple(row) for row in connection.execute(sql).fetchall()]
    except sqlite3.Error:
        return None
    finally:
        connection.close()


@pytest.mark.builtin
def test_builtin_model_gets_some_demo_questions_right(demo_ws, tmp_path: Path) -> None:
    summary = evaluate(
        demo_ws,
        "demo_test",
        limit=5,
        out_dir=tmp_path / "run",
        batch_size=5,
        max_new_tokens=64,
        workers=1,
        bars=False,
    )
    assert summary["n"] == 5 and summary["ex"] > 0
    for verdict in read_jsonl(tmp_path / "run" / "verdicts.jsonl"):
        db = database_ref(demo_ws, "demo_test", verdict["db_id"])
        gold, pred = _rows(db, verdict["gold_sql"]), _rows(db, verdict["pred_sql"])
        assert gold is not None and verdict["gold"]["row_count"] == len(gold)
        if pred is None:
            assert verdict["category"] in ("pred_error", "pred_refused") and not verdict["correct"]
            continue
        assert verdict["pred"]["row_count"] == len(pred)
        assert verdict["pred"]["first_rows"] == [list(row) for row in pred[:5]]
        same = pred == gold if verdict["order_matters"] else set(pred) == set(gold)
        assert verdict["correct"] is same
