"""The demo databases: deterministic rebuild, constraints, sizes, and the build script's CLI."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
COMMITTED = DATA_DIR / "demo" / "databases"
DB_IDS = ("concert_singer", "library", "shop", "school")

Connect = Callable[[Path], sqlite3.Connection]


def table_names(connection: sqlite3.Connection) -> list[str]:
    """User tables of a database, sorted."""
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [name for (name,) in rows]


def table_contents(connection: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every table's rows, sorted so that storage order does not matter."""
    return {
        table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
        for table in table_names(connection)
    }


@pytest.fixture(scope="module")
def rebuilt(build_demo: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The demo databases rebuilt from the script into a temporary folder."""
    return build_demo.build_demo_databases(tmp_path_factory.mktemp("demo_databases"))


def test_build_returns_one_file_per_database(rebuilt: list[Path]) -> None:
    assert [path.name for path in rebuilt] == [f"{db_id}.sqlite" for db_id in DB_IDS]
    assert all(path.is_file() for path in rebuilt)


@pytest.mark.parametrize("db_id", DB_IDS)
def test_rebuild_matches_committed_tables(
    db_id: str, rebuilt: list[Path], connect_read_only: Connect
) -> None:
    fresh_path = next(path for path in rebuilt if path.stem == db_id)
    fresh, committed = (
        connect_read_only(fresh_path),
        connect_read_only(COMMITTED / f"{db_id}.sqlite"),
    )
    try:
        fresh_schema = fresh.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        assert (
            fresh_schema
            == committed.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        )
        assert table_contents(fresh) == table_contents(committed), (
            f"{db_id}.sqlite differs from a fresh build: rerun `python data/build_demo.py`"
        )
    finally:
        fresh.close()
        committed.close()


@pytest.mark.parametrize("db_id", DB_IDS)
def test_database_shape_and_constraints(db_id: str, connect_read_only: Connect) -> None:
    connection = connect_read_only(COMMITTED / f"{db_id}.sqlite")
    try:
        tables = table_names(connection)
        assert 3 <= len(tables) <= 5
        foreign_keys = 0
        for table in tables:
            columns = connection.execute(f'PRAGMA table_info("{table}")').fetchall()
            assert all(column[2] for column in columns), f"{db_id}.{table}: undeclared column type"
            assert any(column[5] for column in columns), f"{db_id}.{table}: no PRIMARY KEY"
            foreign_keys += len(
                connection.execute(f'PRAGMA foreign_key_list("{table}")').fetchall()
            )
            row_count = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            assert 20 <= row_count <= 200, f"{db_id}.{table} has {row_count} rows"
        assert foreign_keys >= 2, f"{db_id}: too few FOREIGN KEY constraints"
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()


def test_committed_demo_data_is_small() -> None:
    total = sum(path.stat().st_size for path in (DATA_DIR / "demo").rglob("*") if path.is_file())
    assert total < 1024 * 1024


def test_stats_command_counts_questions(questions: list[dict]) -> None:
    result = subprocess.run(
        [sys.executable, str(DATA_DIR / "build_demo.py"), "--stats"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["Questions:", str(len(questions))] in lines
    for db_id in DB_IDS:
        train = sum(q["db_id"] == db_id and q["split"] == "train" for q in questions)
        test = sum(q["db_id"] == db_id and q["split"] == "test" for q in questions)
        assert [db_id, str(train), str(test), str(train + test)] in lines
    for difficulty in ("simple", "moderate", "challenging"):
        train = sum(q["difficulty"] == difficulty and q["split"] == "train" for q in questions)
        test = sum(q["difficulty"] == difficulty and q["split"] == "test" for q in questions)
        assert [difficulty, str(train), str(test), str(train + test)] in lines
