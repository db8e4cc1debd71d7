"""Token budget: too-large schemas shrink in the stated order, the question always survives."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from studio.data.budget import TokenBudget
from studio.data.descriptions import ColumnDescription, apply_descriptions
from studio.data.prompts import SYSTEM_PROMPT, build_instruction, build_messages
from studio.data.schema_text import render_schema, view_for_style
from studio.data.sft_rows import SourceRecord, build_sft_rows
from studio.sql.introspect import introspect

QUESTION = "How many activities are there?"
SQL = "SELECT COUNT(*) FROM Activity"


@pytest.fixture(scope="module")
def described_activity(spiderman_sqlite_dir: Path):
    schema = introspect(spiderman_sqlite_dir / "activity_1.sqlite", sample_values=3)
    apply_descriptions(
        schema,
        {
            "activity": {
                "activity_name": ColumnDescription(
                    "the name of the activity", "free text, title case"
                )
            },
            "student": {
                "city_code": ColumnDescription("three-letter code of the home city", "IATA style")
            },
            "faculty": {
                "rank": ColumnDescription(
                    "academic rank", "Instructor, AsstProf, AssocProf or Professor"
                )
            },
        },
    )
    return schema


def stage_texts(schema) -> dict[str, str]:
    full = view_for_style("enriched")
    views = {
        "full": full,
        "samples": full.without_samples(),
        "descriptions": full.without_samples().without_descriptions(),
        "tables": full.without_samples().without_descriptions().only_tables({"activity"}),
    }
    return {
        stage: build_instruction(QUESTION, render_schema(schema, view), "sqlite")
        for stage, view in views.items()
    }


def exact_tokens(budget: TokenBudget, instruction: str) -> int:
    return budget.prompt_tokens(
        [build_messages({"instruction": instruction, "system": SYSTEM_PROMPT})]
    )[0]


def test_shrinks_samples_then_descriptions_then_tables(tokenizer, described_activity) -> None:
    texts = stage_texts(described_activity)
    probe = TokenBudget(tokenizer, 10_000)
    sizes = {stage: exact_tokens(probe, text) for stage, text in texts.items()}
    assert sizes["full"] > sizes["samples"] > sizes["descriptions"] > sizes["tables"]
    answer = probe.answer_tokens([SQL])[0]
    record = SourceRecord(question_id=7, db_id="activity_1", question=QUESTION, sql=SQL)

    expected = [
        (None, "full"),
        ("samples", "samples"),
        ("descriptions", "descriptions"),
        ("tables", "tables"),
    ]
    for shrunk, stage in expected:
        budget = TokenBudget(
            tokenizer, sizes[stage] + answer
        )  # fits exactly at this stage, not before
        result = build_sft_rows(
            [record], {"activity_1": described_activity}, "sqlite", "enriched", budget
        )
        (row,) = result.rows
        assert row["instruction"] == texts[stage]
        assert row["schema_shrunk"] == shrunk
        assert result.shrunk_by_stage == ({} if shrunk is None else {shrunk: 1})
        assert row["instruction"].endswith(f"Question: {QUESTION}")

    tables_only = texts["tables"]
    assert "CREATE TABLE Activity" in tables_only and "Faculty" not in tables_only


def test_example_that_cannot_fit_is_left_out_and_counted(tokenizer, described_activity) -> None:
    probe = TokenBudget(tokenizer, 10_000)
    smallest = (
        exact_tokens(probe, stage_texts(described_activity)["tables"])
        + probe.answer_tokens([SQL])[0]
    )
    records = [
        SourceRecord(question_id=1, db_id="activity_1", question=QUESTION, sql=SQL),
        SourceRecord(
            question_id=2, db_id="activity_1", question=QUESTION + " " + "Really? " * 40, sql=SQL
        ),
    ]
    result = build_sft_rows(
        records,
        {"activity_1": described_activity},
        "sqlite",
        "enriched",
        TokenBudget(tokenizer, smallest),
    )
    assert [row["question_id"] for row in result.rows] == [1]
    assert result.over_budget == [2]
    assert result.shrunk_by_stage == {"tables": 1}


def test_no_budget_keeps_the_full_schema(described_activity) -> None:
    record = SourceRecord(question_id=1, db_id="activity_1", question=QUESTION, sql=SQL)
    result = build_sft_rows(
        [record], {"activity_1": described_activity}, "sqlite", "enriched", None
    )
    assert result.rows[0]["instruction"] == stage_texts(described_activity)["full"]
    assert result.shrunk == 0


def test_every_kept_prompt_fits_exactly(
    tokenizer, spiderman_sqlite_dir: Path, spiderman_dir: Path
) -> None:
    """The fast estimate never lets a prompt through that the exact count would refuse."""
    with open(spiderman_dir / "test_queries.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[::10]
    schemas = {
        db: introspect(spiderman_sqlite_dir / f"{db}.sqlite")
        for db in {r["database"] for r in rows}
    }
    records = [SourceRecord(i, r["database"], r["question"], r["sql"]) for i, r in enumerate(rows)]
    budget = TokenBudget(tokenizer, 420)
    result = build_sft_rows(records, schemas, "sqlite", "enriched", budget)
    assert result.shrunk > 0 and result.rows
    exact = budget.prompt_tokens([build_messages(row) for row in result.rows])
    answers = budget.answer_tokens([row["output"] for row in result.rows])
    assert all(p + a <= 420 for p, a in zip(exact, answers, strict=False))
    assert len(result.rows) + len(result.over_budget) == len(records)
