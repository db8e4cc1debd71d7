"""The demo questions: well-formed, correct gold SQL, a clean train/test split."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

COMMITTED = Path(__file__).resolve().parents[2] / "data" / "demo" / "databases"
DB_IDS = {"concert_singer", "library", "shop", "school"}
DIFFICULTIES = {"simple", "moderate", "challenging"}
FIELDS = {"question_id", "db_id", "question", "evidence", "sql", "difficulty", "split"}
# Gold queries that deliberately return no rows; asserted empty so the list cannot rot.
KNOWN_EMPTY_RESULTS: frozenset[int] = frozenset()

Connect = Callable[[Path], sqlite3.Connection]


def normalized(text: str) -> str:
    """Case- and whitespace-insensitive form of a question or a query."""
    return re.sub(r"\s+", " ", text).strip().rstrip(";").casefold()


def test_fields_are_valid(questions: list[dict]) -> None:
    for entry in questions:
        where = f"questions.json question_id={entry.get('question_id')}"
        assert set(entry) == FIELDS, f"{where}: fields {sorted(entry)}"
        assert isinstance(entry["question_id"], int), where
        assert entry["db_id"] in DB_IDS, where
        assert entry["difficulty"] in DIFFICULTIES, where
        assert entry["split"] in {"train", "test"}, where
        assert isinstance(entry["evidence"], str), where
        assert entry["question"].strip() and entry["sql"].strip(), where
        assert entry["question"][-1] in ".?", f"{where}: question should end like a sentence"
    assert len({q["question_id"] for q in questions}) == len(questions)


def test_size_and_split_balance(questions: list[dict]) -> None:
    assert len(questions) >= 160
    splits = Counter(q["split"] for q in questions)
    assert 0.2 <= splits["test"] / len(questions) <= 0.3
    assert {(q["db_id"], q["split"]) for q in questions} == {
        (db_id, split) for db_id in DB_IDS for split in ("train", "test")
    }
    assert {q["difficulty"] for q in questions if q["split"] == "test"} == DIFFICULTIES
    assert any(q["evidence"] for q in questions if q["split"] == "train")
    assert any(q["evidence"] for q in questions if q["split"] == "test")


def test_no_duplicate_question_text(questions: list[dict]) -> None:
    counts = Counter(normalized(q["question"]) for q in questions)
    assert [text for text, count in counts.items() if count > 1] == []


def test_no_gold_sql_shared_between_train_and_test(questions: list[dict]) -> None:
    train = {normalized(q["sql"]) for q in questions if q["split"] == "train"}
    leaked = [
        q["question_id"]
        for q in questions
        if q["split"] == "test" and normalized(q["sql"]) in train
    ]
    assert leaked == []


def test_every_gold_sql_executes_and_returns_rows(
    questions: list[dict], connect_read_only: Connect
) -> None:
    connections = {db_id: connect_read_only(COMMITTED / f"{db_id}.sqlite") for db_id in DB_IDS}
    try:
        empty = set()
        for entry in questions:
            try:
                rows = connections[entry["db_id"]].execute(entry["sql"]).fetchall()
            except sqlite3.Error as error:
                raise AssertionError(f"question_id={entry['question_id']}: {error}") from error
            if not rows:
                empty.add(entry["question_id"])
        assert empty == KNOWN_EMPTY_RESULTS
    finally:
        for connection in connections.values():
            connection.close()


def test_databases_are_opened_read_only(connect_read_only: Connect) -> None:
    connection = connect_read_only(COMMITTED / "concert_singer.sqlite")
    try:
        try:
            connection.execute("DELETE FROM singer")
        except sqlite3.OperationalError as error:
            assert "readonly" in str(error)
        else:
            raise AssertionError("a read-only connection accepted a DELETE")
    finally:
        connection.close()


def test_france_question_counts_french_singers(
    questions: list[dict], connect_read_only: Connect
) -> None:
    entry = next(q for q in questions if q["question"] == "How many singers are from France?")
    assert entry["db_id"] == "concert_singer"
    connection = connect_read_only(COMMITTED / "concert_singer.sqlite")
    try:
        countries = [country for (country,) in connection.execute("SELECT country FROM singer")]
        assert connection.execute(entry["sql"]).fetchall() == [(countries.count("France"),)]
    finally:
        connection.close()
