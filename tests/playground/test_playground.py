"""The playground core on the demo databases: prompts, variants side by side, the pool, verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.data.registry import database_ref, load_examples
from studio.errors import StudioError
from studio.inference.playground import (
    DISPLAY_MAX_ROWS,
    ModelPool,
    Variant,
    answer,
    build_messages_for,
    check_variants,
    judge_sql,
)
from studio.jobs.runs import list_adapters
from studio.sql.execute import execute_sql
from studio.workspace import Workspace

QUESTION = "How many singers are from France?"
GOLD = "SELECT COUNT(*) FROM singer WHERE country = 'France'"


def concert_singer(ws: Workspace) -> str:
    return database_ref(ws, "demo_train", "concert_singer")


def test_prompt_is_the_one_the_dataset_trains_on(demo_workspace: Workspace) -> None:
    example = load_examples(demo_workspace, "demo_test")[0]
    database = database_ref(demo_workspace, "demo_test", example.db_id)
    messages = build_messages_for(example.question, database, example.evidence)
    assert messages == [
        {"role": "system", "content": example.system},
        {"role": "user", "content": example.prompt},
    ]
    with_evidence = build_messages_for(
        QUESTION, database, evidence="France means country = 'France'"
    )
    assert "External knowledge: France means country = 'France'" in with_evidence[1]["content"]
    assert "CREATE TABLE singer" in with_evidence[1]["content"]


def test_two_variants_answer_side_by_side_and_stay_loaded(
    demo_workspace: Workspace, tiny_qwen2_dir: Path, tiny_adapter_dir: Path
) -> None:
    pool = ModelPool()
    base = Variant(str(tiny_qwen2_dir))
    tuned = Variant(str(tiny_qwen2_dir), (str(tiny_adapter_dir),))
    database = concert_singer(demo_workspace)
    answers = answer(QUESTION, database, [base, tuned], gold_sql=GOLD, pool=pool, max_new_tokens=24)
    assert [a.variant for a in answers] == [base, tuned]
    for reply in answers:
        assert reply.error is None
        assert reply.completion
        rerun = execute_sql(database, reply.sql, max_rows=DISPLAY_MAX_ROWS)  # its own SQL, again
        shown = reply.execution
        assert (shown.ok, shown.rows, shown.error_kind) == (rerun.ok, rerun.rows, rerun.error_kind)
        assert reply.verdict == judge_sql(database, reply.sql, GOLD)
    assert answers[0].completion != answers[1].completion  # the adapter changes the model
    assert pool.loaded() == [base, tuned]
    held = pool.get(base)
    again = answer("How many concerts are there?", database, [base], pool=pool, max_new_tokens=8)
    assert pool.get(base) is held  # not loaded again between questions
    assert again[0].verdict is None  # no gold, no verdict
    assert tuned.label == f"{tiny_qwen2_dir} + {tiny_adapter_dir.parent.name}"


def test_a_variant_can_answer_by_voting_over_samples(
    demo_workspace: Workspace, tiny_qwen2_dir: Path
) -> None:
    from studio.sql.extract import extract_sql

    database = concert_singer(demo_workspace)
    reply = answer(
        QUESTION,
        database,
        [Variant(str(tiny_qwen2_dir))],
        gold_sql=GOLD,
        pool=ModelPool(),
        max_new_tokens=8,
        vote_n=3,
    )[0]
    assert reply.error is None and reply.vote is not None
    assert reply.vote.n == 3 and 0 <= reply.vote.votes <= reply.vote.executed <= 3
    assert reply.sql == reply.vote.sql == extract_sql(reply.completion)
    assert reply.agreement_text.startswith(f"{reply.vote.votes}/3 samples agree")
    assert reply.verdict == judge_sql(database, reply.sql, GOLD)


def test_pool_drops_the_least_recently_used(tiny_qwen2_dir: Path, tiny_adapter_dir: Path) -> None:
    pool = ModelPool(capacity=1)
    base = Variant(str(tiny_qwen2_dir))
    tuned = Variant(str(tiny_qwen2_dir), (str(tiny_adapter_dir),))
    pool.get(base)
    pool.get(tuned)
    assert pool.loaded() == [tuned]
    assert not pool.is_loaded(base)
    assert pool.unload() == [tuned]
    assert pool.loaded() == [] and not pool.is_loaded(tuned)
    assert pool.unload() == []


def test_a_variant_that_cannot_load_reports_why_and_the_others_answer(
    demo_workspace: Workspace, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    missing = Variant(str(tmp_path / "no-such-model"))
    answers = answer(
        QUESTION,
        concert_singer(demo_workspace),
        [missing, Variant(str(tiny_qwen2_dir))],
        pool=ModelPool(),
        max_new_tokens=8,
    )
    assert answers[0].error and "not found" in answers[0].error and answers[0].execution is None
    assert answers[1].error is None and answers[1].execution is not None


def test_verdicts_follow_execution(demo_workspace: Workspace) -> None:
    database = concert_singer(demo_workspace)
    assert (
        judge_sql(database, "SELECT count(singer_id) FROM singer WHERE country = 'France'", GOLD)
        == "correct"
    )
    assert judge_sql(database, "SELECT COUNT(*) FROM singer", GOLD) == "wrong_result"
    assert judge_sql(database, "SELECT nothing FROM nowhere", GOLD) == "pred_error"
    assert judge_sql(database, "DELETE FROM singer", GOLD) == "pred_refused"


def test_bad_variant_lists_are_refused(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    base = Variant(str(tiny_qwen2_dir))
    with pytest.raises(StudioError, match="at least one"):
        check_variants([])
    with pytest.raises(StudioError, match="at most 3"):
        check_variants([Variant(f"builtin:m{i}") for i in range(4)])
    with pytest.raises(StudioError, match="not a LoRA adapter folder"):
        check_variants([Variant(str(tiny_qwen2_dir), (str(tmp_path),))])
    assert check_variants([base, base]) == [base]
    with pytest.raises(StudioError, match="type a question"):
        build_messages_for("  ", str(tmp_path / "x.sqlite"))


def test_adapters_of_the_workspace_runs_are_listed(
    demo_workspace: Workspace, tiny_adapter_dir: Path
) -> None:
    import shutil

    run_adapter = demo_workspace.runs_dir / "sft-0001" / "adapter"
    shutil.copytree(tiny_adapter_dir, run_adapter)
    (demo_workspace.runs_dir / "sft-0002").mkdir()
    assert list_adapters(demo_workspace) == [str(run_adapter)]
    assert Variant("builtin:x", (str(run_adapter),)).label == "builtin:x + sft-0001"


@pytest.mark.builtin
def test_builtin_model_answers_a_demo_question(demo_workspace: Workspace) -> None:
    from studio.models.references import DEFAULT_MODEL

    database = concert_singer(demo_workspace)
    reply = answer(
        "How many singers are there?",
        database,
        [Variant(DEFAULT_MODEL)],
        gold_sql="SELECT COUNT(*) FROM singer",
        pool=ModelPool(),
        max_new_tokens=48,
    )[0]
    assert reply.error is None
    assert reply.sql.upper().startswith("SELECT")
    assert reply.execution.ok
    assert reply.verdict == "correct"


@pytest.mark.builtin
def test_builtin_model_votes_for_the_right_count(demo_workspace: Workspace) -> None:
    from studio.models.references import DEFAULT_MODEL

    reply = answer(
        "How many singers are there?",
        concert_singer(demo_workspace),
        [Variant(DEFAULT_MODEL)],
        gold_sql="SELECT COUNT(*) FROM singer",
        pool=ModelPool(),
        max_new_tokens=48,
        vote_n=4,
    )[0]
    assert reply.verdict == "correct" and reply.vote.votes >= 2


def test_model_ask_cli_answers_with_each_variant_and_a_verdict(
    tiny_qwen2_dir, tiny_adapter_dir
) -> None:
    database = (
        Path(__file__).resolve().parents[2]
        / "data"
        / "demo"
        / "databases"
        / "concert_singer.sqlite"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "model",
            "ask",
            "--db",
            str(database),
            "--question",
            "How many singers are from France?",
            "--gold",
            "SELECT COUNT(*) FROM singer WHERE country = 'France'",
            "--variant",
            str(tiny_qwen2_dir),
            "--variant",
            f"{tiny_qwen2_dir}+{tiny_adapter_dir}",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["variant"].count("+") for a in answers] == [0, 1]
    for item in answers:
        assert item["verdict"] in {
            "correct",
            "wrong_result",
            "pred_error",
            "pred_timeout",
            "pred_refused",
        }
        assert item["result"] is not None
