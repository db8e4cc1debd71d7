"""The built-in model answering a few demo questions with sampling: every stored pair is
re-executed, and no rejected SQL returns the gold result while every chosen one does."""

from __future__ import annotations

import json

import pytest

from studio.data.registry import DatasetMeta, database_ref, register_dataset
from studio.models.references import DEFAULT_MODEL
from studio.pairs.config import MiningConfig, write_config
from studio.pairs.curate import list_pairs
from studio.pairs.mine import mine, rebuild_pairs
from studio.sql.compare import gold_requires_order, results_match
from studio.sql.execute import execute_sql
from studio.workspace import Workspace

# demo_train rows of concert_singer: two simple, two moderate, two challenging questions
QUESTION_ROWS = (0, 4, 16, 22, 24, 31)


@pytest.mark.builtin
def test_builtin_model_pairs_verify_on_re_execution(demo_ws: Workspace) -> None:
    rows = json.loads((demo_ws.datasets_dir / "demo_train.json").read_text())
    database = database_ref(demo_ws, "demo_train", "concert_singer")
    register_dataset(
        demo_ws,
        "six",
        [rows[i] for i in QUESTION_ROWS],
        "sft",
        DatasetMeta(dialect="sqlite", databases={"concert_singer": database}),
    )
    config = MiningConfig(
        model=DEFAULT_MODEL,
        dataset="six",
        n=4,
        temperature=0.8,
        top_p=0.95,
        batch_size=6,
        max_new_tokens=64,
        pairs_per_question=2,
    )
    run_dir = demo_ws.new_run_dir("pairs")
    write_config(run_dir, config)
    summary = mine(demo_ws, run_dir, config)
    rebuild_pairs(demo_ws, run_dir, "onpolicy", 2)
    assert summary["questions_done"] == len(QUESTION_ROWS) and summary["unverified"] == 0
    pairs = list_pairs(demo_ws, limit=1000)
    assert any(p.strategy == "gold" for p in pairs), (
        f"no wrong sample at all: {summary['candidates']}"
    )
    for pair in pairs:
        gold = execute_sql(pair.database, pair.gold_sql)
        order = gold_requires_order(pair.gold_sql, "sqlite")
        chosen, rejected = (
            execute_sql(pair.database, pair.chosen_sql),
            execute_sql(pair.database, pair.rejected_sql),
        )
        assert gold.ok and chosen.ok and results_match(chosen.rows, gold.rows, order), (
            pair.chosen_sql
        )
        assert not (rejected.ok and results_match(rejected.rows, gold.rows, order)), (
            pair.rejected_sql
        )
        assert pair.chosen_sql != pair.rejected_sql
        if pair.strategy == "onpolicy":
            assert pair.chosen_origin.startswith("sample:")
