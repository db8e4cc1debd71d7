"""Curation on a mined store: statuses, re-verified edits, history, bulk changes, counts,
and the export (files, registration with ranking: true, and one DPO step on it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.data.registry import get_dataset, load_examples
from studio.errors import StudioError
from studio.pairs.curate import (
    PairFilter,
    bulk_set_status,
    edit_pair,
    get_pair,
    list_pairs,
    pair_counts,
    pair_history,
    set_status,
)
from studio.pairs.export import export_pairs
from studio.sql.execute import execute_sql
from studio.train.config import load_config
from studio.train.worker import train, write_run_config
from studio.workspace import Workspace

from .conftest import REPO_ROOT, TINY_LIMIT

WRONG = "SELECT -987654321"


def test_mined_pairs_are_pending_valid_and_carry_their_provenance(
    mined: tuple[Workspace, Path], tiny_qwen2_dir: Path
) -> None:
    ws, run_dir = mined
    pairs = list_pairs(ws)
    assert len(pairs) == TINY_LIMIT  # garbage answers: every question gets a gold-vs-error pair
    examples = load_examples(ws, "demo_train")
    for pair in pairs:
        example = examples[pair.question_index]
        assert (pair.status, pair.verdict, pair.strategy, pair.run_id) == (
            "pending",
            "valid",
            "gold",
            run_dir.name,
        )
        assert (
            pair.prompt == example.prompt
            and pair.system == example.system
            and pair.gold_sql == example.gold_sql
        )
        assert pair.chosen_sql == pair.gold_sql and pair.chosen_origin == "gold"
        assert pair.rejected_label == "error" and pair.rejected_origin.startswith("sample:")
        assert pair.rejected_execution["ok"] is False and pair.gold_execution["ok"] is True
        assert (pair.model, pair.adapters) == (str(tiny_qwen2_dir), [])
    assert list_pairs(ws, db_id="concert_singer", limit=2, offset=1) == pairs[1:3]
    assert list_pairs(ws, status="accepted") == []


def test_edited_rejected_that_returns_the_gold_result_is_flagged(
    mined: tuple[Workspace, Path],
) -> None:
    ws, _ = mined
    pair = list_pairs(ws)[0]
    right = f"SELECT * FROM ({pair.gold_sql}) AS t"
    flagged = edit_pair(ws, pair.id, rejected=right, actor="ui")
    assert (flagged.status, flagged.verdict, flagged.rejected_label) == (
        "needs_review",
        "flagged",
        "correct",
    )
    assert "rejected SQL returns the gold result" in flagged.flag
    assert flagged.rejected_sql == right and flagged.rejected_origin == "edit"
    assert flagged.rejected_execution["row_count"] == pair.gold_execution["row_count"]
    with pytest.raises(StudioError, match="flagged"):
        set_status(ws, pair.id, "accepted", actor="ui")
    fixed = edit_pair(ws, pair.id, rejected=WRONG, actor="cli")
    assert (fixed.status, fixed.verdict, fixed.flag, fixed.rejected_label) == (
        "edited",
        "valid",
        None,
        "wrong_result",
    )
    history = pair_history(ws, pair.id)
    assert [(h.actor, h.action, h.old_status, h.new_status) for h in history] == [
        ("ui", "edit", "pending", "needs_review"),
        ("cli", "edit", "needs_review", "edited"),
    ]
    assert (history[0].old_rejected, history[0].new_rejected) == (pair.rejected_sql, right)
    assert history[0].old_chosen is None and history[1].new_rejected == WRONG
    assert history[0].at <= history[1].at


def test_edited_chosen_that_is_wrong_is_flagged(mined: tuple[Workspace, Path]) -> None:
    ws, _ = mined
    pair = list_pairs(ws)[1]
    flagged = edit_pair(ws, pair.id, chosen=WRONG)
    assert (flagged.status, flagged.chosen_label) == ("needs_review", "wrong_result")
    assert "chosen SQL does not return the gold result" in flagged.flag
    assert list_pairs(ws, verdict="flagged") == [flagged]
    assert set_status(ws, pair.id, "rejected").status == "rejected"


def test_edited_sql_that_does_not_parse_is_flagged_not_verified(
    mined: tuple[Workspace, Path],
) -> None:
    ws, _ = mined
    pair = list_pairs(ws)[2]
    typo = "SELEC name FROM singer"
    flagged = edit_pair(ws, pair.id, rejected=typo)
    assert (flagged.status, flagged.verdict, flagged.rejected_label) == (
        "needs_review",
        "flagged",
        "error",
    )
    assert flagged.rejected_execution["error_kind"] == "syntax"
    assert flagged.flag == "the edited rejected SQL does not parse; fix it or reject the pair"
    assert edit_pair(ws, pair.id, rejected=WRONG).status == "edited"


def test_status_rules_bulk_changes_and_counts(mined: tuple[Workspace, Path]) -> None:
    ws, _ = mined
    first, second, *_ = list_pairs(ws)
    with pytest.raises(StudioError, match="never edited"):
        set_status(ws, first.id, "edited")
    with pytest.raises(StudioError, match="unknown"):
        set_status(ws, first.id, "approved")
    with pytest.raises(StudioError, match="no pair 999"):
        get_pair(ws, 999)
    set_status(ws, first.id, "rejected", actor="ui")
    edit_pair(ws, second.id, rejected=f"SELECT * FROM ({second.gold_sql}) AS t")  # flagged
    changed = bulk_set_status(ws, PairFilter(strategy="gold"), "accepted", actor="ui")
    assert (
        changed == TINY_LIMIT - 1
    )  # the flagged pair is passed over, the rejected one is accepted
    assert get_pair(ws, second.id).status == "needs_review"
    assert bulk_set_status(ws, {"status": "accepted"}, "accepted") == 0
    counts = pair_counts(ws)
    assert counts["total"] == TINY_LIMIT
    assert counts["by_status"] == {"accepted": TINY_LIMIT - 1, "needs_review": 1}
    assert counts["by_strategy_status"] == {"gold": counts["by_status"]}
    assert counts["by_verdict"] == {"valid": TINY_LIMIT - 1, "flagged": 1}
    assert [h.action for h in pair_history(ws, first.id)] == ["status", "bulk_status"]


def test_export_registers_a_ranking_dataset_and_a_trl_file(mined: tuple[Workspace, Path]) -> None:
    ws, _ = mined
    pairs = list_pairs(ws)
    with pytest.raises(StudioError, match="no pairs to export.*pending"):
        export_pairs(ws, "mined_pairs")
    set_status(ws, pairs[0].id, "accepted")
    edit_pair(ws, pairs[1].id, rejected=WRONG)
    edit_pair(
        ws, pairs[2].id, rejected=f"SELECT * FROM ({pairs[2].gold_sql}) AS t"
    )  # flagged: never exported
    summary = export_pairs(ws, "mined_pairs")
    assert summary["rows"] == 2 and summary["exported_by_status"] == {"accepted": 1, "edited": 1}
    assert summary["all_by_status"] == {"accepted": 1, "edited": 1, "needs_review": 1, "pending": 1}
    info = json.loads(ws.dataset_info_path.read_text())["mined_pairs"]
    assert info["ranking"] is True and info["file_name"] == "datasets/mined_pairs.json"
    rows = json.loads((ws.root / info["file_name"]).read_text())
    assert [(r["pair_id"], r["chosen"], r["rejected"]) for r in rows] == [
        (pairs[0].id, pairs[0].gold_sql, pairs[0].rejected_sql),
        (pairs[1].id, pairs[1].gold_sql, WRONG),
    ]
    assert all(
        r["instruction"] == p.prompt and r["system"] == p.system and r["input"] == ""
        for r, p in zip(rows, pairs, strict=False)
    )
    dataset = get_dataset(ws, "mined_pairs")
    assert dataset.kind == "preference" and dataset.dialect == "sqlite"
    assert dataset.databases == {"concert_singer": pairs[0].database}
    trl = [json.loads(line) for line in Path(summary["trl_file"]).read_text().splitlines()]
    assert trl[1] == {
        "prompt": [
            {"role": "system", "content": pairs[1].system},
            {"role": "user", "content": pairs[1].prompt},
        ],
        "chosen": [{"role": "assistant", "content": pairs[1].gold_sql}],
        "rejected": [{"role": "assistant", "content": WRONG}],
    }
    with_pending = export_pairs(ws, "mined_pairs_all", include_pending=True)
    assert with_pending["rows"] == 3 and with_pending["exported_by_status"]["pending"] == 1
    with pytest.raises(StudioError, match="no pairs to export"):
        export_pairs(
            ws, "mined_onpolicy", include_pending=True, only=PairFilter(strategy="onpolicy")
        )
    one_run = export_pairs(
        ws, "mined_one_run", only=PairFilter(run_id=pairs[0].run_id, db_id="concert_singer")
    )
    assert one_run["rows"] == 2
    # every exported chosen still returns the gold result, every rejected does not
    for row in rows:
        gold = execute_sql(pairs[0].database, row["gold_sql"])
        assert execute_sql(pairs[0].database, row["chosen"]).rows == gold.rows
        assert execute_sql(pairs[0].database, row["rejected"]).rows != gold.rows


def test_exported_pairs_train_with_the_demo_dpo_config(
    mined: tuple[Workspace, Path], tiny_qwen2_dir: Path
) -> None:
    ws, _ = mined
    bulk_set_status(ws, PairFilter(), "accepted")
    export_pairs(ws, "dpo_pairs")
    cfg = load_config(
        REPO_ROOT / "configs" / "demo_dpo.yaml",
        [
            "dataset=dpo_pairs",
            "max_steps=1",
            f"model_name_or_path={tiny_qwen2_dir}",
            "adapter_name_or_path=[]",
        ],
    )
    run_dir = ws.new_run_dir("dpo")
    write_run_config(run_dir, cfg)
    train(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "succeeded"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 1 and "rewards/margins" in metrics[-1]
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
