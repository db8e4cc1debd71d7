"""Execution on both engines: rows, row cap, error kinds as data, timeouts and bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.sql.execute import execute_sql
from studio.sql.sandbox import GRACE_S

KILL_SLACK_S = 1.0  # stopping and reaping an executor that ignored its deadline, on a busy machine

FOREVER_SQLITE = (
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
)
FOREVER_MYSQL = [
    "SELECT SLEEP(100)",
    "SELECT BENCHMARK(100000000000, MD5('studio'))",
    (
        "SELECT COUNT(*) FROM singer a, singer b, singer c, singer d, singer e, singer f, "
        "singer g, singer h, singer i, singer j, singer k, singer l"
    ),
]
ERRORS = [
    ("SELECT Name FROM singer WHERE", "syntax"),
    ("SELECT Name FROM singer WHERE Age >", "syntax"),
    ("SELECT Name FROM singers", "unknown_table"),
    ("SELECT s.Name FROM singer AS s JOIN nowhere AS n ON s.Singer_ID = n.id", "unknown_table"),
    ("SELECT Nickname FROM singer", "unknown_column"),
    ("SELECT Name FROM singer WHERE Height > 2", "unknown_column"),
    ("", "syntax"),
]


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("concert_singer_sqlite"))
    return request.getfixturevalue("concert_singer_mysql")


def test_rows_and_columns(database: str) -> None:
    result = execute_sql(database, "SELECT Name, Age FROM singer WHERE Age > 40 ORDER BY Age, Name")
    assert result.ok and result.error_kind is None and result.error is None
    assert result.columns == ["Name", "Age"]
    assert result.rows == [("Rose White", 41), ("John Nizinik", 43), ("Joe Sharp", 52)]
    assert not result.truncated and result.elapsed_s > 0


def test_row_cap(database: str) -> None:
    capped = execute_sql(database, "SELECT Singer_ID FROM singer ORDER BY Singer_ID", max_rows=4)
    assert capped.ok and capped.truncated and capped.rows == [(1,), (2,), (3,), (4,)]
    exact = execute_sql(database, "SELECT Singer_ID FROM singer", max_rows=6)
    assert exact.ok and not exact.truncated and len(exact.rows) == 6
    assert execute_sql(database, "SELECT COUNT(*) FROM singer").rows == [
        (6,)
    ]  # connection reusable


@pytest.mark.parametrize(("sql", "kind"), ERRORS)
def test_errors_are_data(database: str, sql: str, kind: str) -> None:
    result = execute_sql(database, sql)
    assert not result.ok and result.rows == []
    assert result.error_kind == kind, result.error
    assert result.error


def test_sqlite_runaway_query_is_stopped(concert_singer_sqlite: Path) -> None:
    result = execute_sql(concert_singer_sqlite, FOREVER_SQLITE, timeout_s=1.0)
    assert result.error_kind == "timeout" and not result.ok
    assert 1.0 <= result.elapsed_s <= 1.0 + GRACE_S + KILL_SLACK_S
    assert execute_sql(
        concert_singer_sqlite, "SELECT COUNT(*) FROM singer", timeout_s=1.0
    ).rows == [(6,)]


@pytest.mark.parametrize("sql", FOREVER_MYSQL)
def test_mysql_runaway_query_is_stopped(
    concert_singer_mysql: str, mysql_processes, sql: str
) -> None:
    result = execute_sql(concert_singer_mysql, sql, timeout_s=1.0)
    assert result.error_kind == "timeout" and not result.ok, result
    assert result.elapsed_s <= 1.0 + GRACE_S + KILL_SLACK_S
    assert execute_sql(concert_singer_mysql, "SELECT COUNT(*) FROM singer", timeout_s=1.0).rows == [
        (6,)
    ]
    assert mysql_processes(concert_singer_mysql) == []


def test_json_form(concert_singer_mysql: str) -> None:
    result = execute_sql(concert_singer_mysql, "SELECT AVG(Age), MAX(Name) FROM singer")
    data = result.to_dict()
    assert data["rows"] == [[37.0, "Tribal King"]] and data["row_count"] == 1
    assert set(data) == {
        "ok",
        "columns",
        "rows",
        "row_count",
        "truncated",
        "elapsed_s",
        "error_kind",
        "error",
    }
