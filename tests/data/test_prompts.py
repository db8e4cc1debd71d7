"""Schema styles, the stated dialect, messages and chat rendering through the model's template."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.data.descriptions import apply_descriptions, read_bird_descriptions
from studio.data.prompts import SYSTEM_PROMPT, build_instruction, build_messages, render_chat
from studio.data.registry import Example
from studio.data.schema_text import SCHEMA_STYLES, quote_identifier, render_schema, view_for_style
from studio.data.spider_tables import read_tables_json
from studio.errors import StudioError
from studio.sql.introspect import introspect


@pytest.fixture(scope="module")
def activity(spiderman_sqlite_dir: Path):
    return introspect(spiderman_sqlite_dir / "activity_1.sqlite", sample_values=2)


@pytest.fixture(scope="module")
def financial(bird_minidev: Path):
    schema = read_tables_json(bird_minidev / "mini_dev_sqlite_tables.json", "sqlite")["financial"]
    apply_descriptions(schema, read_bird_descriptions(bird_minidev / "financial"))
    return schema


def test_ddl_style_is_create_table_with_keys(activity) -> None:
    text = render_schema(activity, view_for_style("ddl"))
    assert text.count("CREATE TABLE") == 5
    assert (
        "CREATE TABLE Activity (\n  actid INTEGER PRIMARY KEY,\n  activity_name VARCHAR(25)\n);"
        in text
    )
    assert "FOREIGN KEY (stuid) REFERENCES Student(StuID)" in text
    assert "--" not in text  # no samples or descriptions in plain ddl


def test_compact_style_lists_columns_per_table(activity) -> None:
    text = render_schema(activity, view_for_style("compact"))
    assert "Activity(actid, activity_name)" in text.splitlines()
    assert "CREATE TABLE" not in text
    assert "Primary keys: Activity.actid, Student.StuID, Faculty.FacID" in text
    assert "Participates_in.stuid = Student.StuID" in text


def test_enriched_style_adds_real_sample_values(activity) -> None:
    text = render_schema(activity, view_for_style("enriched"))
    assert "activity_name VARCHAR(25) -- e.g. 'Mountain Climbing', 'Canoeing'" in text
    compact = render_schema(activity, view_for_style("enriched-compact"))
    assert "  activity_name: e.g. 'Mountain Climbing', 'Canoeing'" in compact


def test_enriched_style_adds_bird_descriptions(financial) -> None:
    text = render_schema(financial, view_for_style("enriched"))
    assert (
        'type TEXT, -- type of credit card; values: "junior": junior class of credit card;' in text
    )
    assert "account_id INTEGER PRIMARY KEY, -- the id of the account" in text
    # a description that only repeats the column name is left out
    assert "-- account_id" not in text


def test_reserved_and_spaced_identifiers_are_quoted_per_dialect(financial) -> None:
    assert 'CREATE TABLE "order" (' in render_schema(financial, view_for_style("ddl"))
    assert quote_identifier("order", "mysql") == "`order`"
    assert quote_identifier("Academic Year", "sqlite") == '"Academic Year"'
    assert quote_identifier("frpm", "mysql") == "frpm"


def test_unknown_style_names_the_styles() -> None:
    with pytest.raises(StudioError, match="ddl, compact, enriched, enriched-compact"):
        view_for_style("fancy")


def test_instruction_states_dialect_and_ends_with_question() -> None:
    text = build_instruction(
        "How many loans?", "loan(loan_id)", "mysql", evidence="loan means a row of loan"
    )
    assert text.startswith("Write one MySQL query that answers the question. The database is MySQL")
    assert "Database schema:\nloan(loan_id)" in text
    assert "External knowledge: loan means a row of loan" in text
    assert text.endswith("Question: How many loans?")
    assert "External knowledge" not in build_instruction("q?", "t(a)", "sqlite", evidence="  ")


def test_messages_from_row_and_example() -> None:
    row = {"instruction": "Write SQL.", "input": "extra", "system": SYSTEM_PROMPT}
    assert build_messages(row) == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Write SQL.\nextra"},
    ]
    example = Example(
        index=0,
        system="",
        prompt="Write SQL.",
        response="SELECT 1",
        chosen=None,
        rejected=None,
        question_id=1,
        db_id="x",
        question="q",
        evidence=None,
        difficulty=None,
        gold_sql="SELECT 1",
    )
    # an empty system line leaves the template's default in place, as LLaMA-Factory does
    assert build_messages(example) == [{"role": "user", "content": "Write SQL."}]
    with pytest.raises(StudioError, match="empty instruction"):
        build_messages({"instruction": " "})


def test_render_chat_uses_the_model_template(tokenizer) -> None:
    text = render_chat(
        tokenizer, build_messages({"instruction": "Question: how many?", "system": "Be brief."})
    )
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQuestion: how many?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_render_chat_turns_thinking_off_for_qwen3_templates(qwen3_like_tokenizer) -> None:
    text = render_chat(qwen3_like_tokenizer, build_messages({"instruction": "q", "system": "s"}))
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    without = render_chat(
        qwen3_like_tokenizer,
        build_messages({"instruction": "q", "system": "s"}),
        add_generation_prompt=False,
    )
    assert "assistant" not in without


def test_every_style_renders(activity) -> None:
    for style in SCHEMA_STYLES:
        assert "Faculty_Participates_in" in render_schema(activity, view_for_style(style))
