"""sqlglot helpers (parse errors, normal form, transpiling) and SQL extraction from replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.sql.compare import gold_requires_order, results_match
from studio.sql.dialect import normalize_sql, parse_error, transpile
from studio.sql.execute import execute_sql
from studio.sql.extract import extract_sql, sql_settled


def test_parse_error() -> None:
    assert parse_error("SELECT `name` FROM `singer`", "mysql") is None
    assert parse_error("SELECT name FROM singer WHERE", "sqlite")
    assert parse_error("SELECT 1; SELECT 2", "sqlite") == "expected one SQL statement, found 2"
    assert parse_error("SELECT 'unterminated", "mysql")


EQUIVALENT = [
    [
        "SELECT T2.name FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id",
        "select s.Name from `concert` c join `stadium` s on c.Stadium_ID = s.Stadium_ID;",
        (
            "SELECT stadium.name\nFROM concert JOIN stadium\n"
            "  ON concert.stadium_id = stadium.stadium_id -- names"
        ),
    ],
    ["SELECT name FROM singer WHERE age > 20", "SELECT `Name` FROM `singer` AS t WHERE t.Age > 20"],
    [
        "SELECT country, COUNT(*) AS n FROM singer GROUP BY country ORDER BY n DESC",
        "SELECT country, count(*) FROM singer GROUP BY country ORDER BY COUNT(*) DESC",
    ],
    [
        "SELECT T1.a FROM x AS T1 WHERE T1.b = 1 INTERSECT SELECT T1.a FROM y AS T1",
        "SELECT a FROM x WHERE b = 1 INTERSECT SELECT a FROM y",
    ],
]
DIFFERENT = [
    "SELECT name FROM singer WHERE age > 20",
    "SELECT name FROM singer WHERE age > 21",
    "SELECT name FROM singer WHERE age >= 20",
    "SELECT name FROM singer WHERE name = 'Bob'",
    "SELECT name FROM singer WHERE name = 'bob'",
    "SELECT DISTINCT name FROM singer WHERE age > 20",
    "SELECT name FROM singer WHERE age > 20 ORDER BY name",
    (
        "SELECT * FROM singer AS a "
        "WHERE age > (SELECT AVG(age) FROM singer AS b WHERE b.country = a.country)"
    ),
    (
        "SELECT * FROM singer AS a "
        "WHERE age > (SELECT AVG(age) FROM singer AS b WHERE b.country = b.country)"
    ),
]


@pytest.mark.parametrize("group", EQUIVALENT)
def test_normalize_dedups_equivalent_sql(group: list[str]) -> None:
    assert len({normalize_sql(sql, "mysql") for sql in group}) == 1


def test_normalize_keeps_different_sql_apart() -> None:
    assert len({normalize_sql(sql, "mysql") for sql in DIFFERENT}) == len(DIFFERENT)
    assert len({normalize_sql(sql, "mysql") for group in EQUIVALENT for sql in group}) == len(
        EQUIVALENT
    )


def test_transpile_rejects_bad_input() -> None:
    with pytest.raises(StudioError, match="does not parse as mysql"):
        transpile("SELECT FROM WHERE (", "mysql", "sqlite")
    with pytest.raises(StudioError, match="unknown SQL dialect"):
        transpile("SELECT 1", "mysql", "oracle")


def _comparable(rows: list[tuple]) -> list[tuple]:
    """Numbers as rounded floats, so MySQL decimals meet SQLite floats."""
    return [
        tuple(
            round(float(v), 4)
            if isinstance(v, (int, float)) or type(v).__name__ == "Decimal"
            else v
            for v in row
        )
        for row in rows
    ]


def test_transpiled_spiderman_queries_agree_across_engines(
    spiderman_test_queries: list[dict[str, str]],
    concert_singer_sqlite: Path,
    concert_singer_mysql: str,
) -> None:
    """concert_singer's test golds (MySQL dialect): as written on MariaDB, transpiled to SQLite
    on the SQLite file, and round-tripped back to MySQL: the same rows every time."""
    golds = sorted({r["sql"] for r in spiderman_test_queries if r["database"] == "concert_singer"})
    assert len(golds) >= 20
    compared = 0
    for sql in golds:
        as_sqlite = transpile(sql, "mysql", "sqlite")
        round_trip = transpile(as_sqlite, "sqlite", "mysql")
        on_mysql = execute_sql(concert_singer_mysql, sql)
        on_sqlite = execute_sql(concert_singer_sqlite, as_sqlite)
        back = execute_sql(concert_singer_mysql, round_trip)
        assert on_mysql.ok and on_sqlite.ok and back.ok, (
            sql,
            on_mysql.error,
            on_sqlite.error,
            back.error,
        )
        if " LIMIT " in sql.upper():
            continue  # ORDER BY ... LIMIT with ties: each engine may keep a different row
        compared += 1
        ordered = gold_requires_order(sql, "mysql")
        assert results_match(_comparable(on_sqlite.rows), _comparable(on_mysql.rows), ordered), sql
        assert results_match(back.rows, on_mysql.rows, ordered), sql
    assert compared >= 15


def test_gold_requires_order() -> None:
    assert gold_requires_order("SELECT a FROM t ORDER BY a", "sqlite")
    assert gold_requires_order("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", "sqlite")
    assert not gold_requires_order(
        "SELECT a FROM t WHERE a IN (SELECT b FROM u ORDER BY b LIMIT 1)", "sqlite"
    )
    assert not gold_requires_order("SELECT a FROM t", "mysql")


def test_results_match_rules() -> None:
    gold = [(1, "a"), (2, "b")]
    assert results_match([(2, "b"), (1, "a"), (1, "a")], gold)
    assert not results_match([(2, "b"), (1, "a")], gold, order_matters=True)
    assert results_match([[1, "a"], [2, "b"]], gold, order_matters=True)
    assert not results_match([("a", 1), ("b", 2)], gold)
    assert results_match([(None,)], [(None,)]) and not results_match([(None,)], [("",)])


REPLIES = [
    (
        "```sql\nSELECT name FROM singer;\n```\nThis query lists every singer's name.",
        "SELECT name FROM singer",
    ),
    (
        (
            "To find the singers, select from the singer table:\n\n"
            "SELECT COUNT(*) FROM singer WHERE country = 'France';\n\n"
            "It counts French singers."
        ),
        "SELECT COUNT(*) FROM singer WHERE country = 'France'",
    ),
    (
        (
            "<think>\nI should select the name column.\n</think>\n\n"
            "```sql\nSELECT a\nFROM t\nWHERE b = 'x;y'\n```"
        ),
        "SELECT a\nFROM t\nWHERE b = 'x;y'",
    ),
    ("SELECT name FROM singer", "SELECT name FROM singer"),
    ("Here you go:\n```\nSELECT 1\n```\nDone.", "SELECT 1"),
    ("SQLQuery: with x as (select 1) select * from x;", "with x as (select 1) select * from x"),
    ("```python\nprint('hi')\n```\n```sql\nSELECT 2;\n```", "SELECT 2"),
    (
        "The query is SELECT `name` FROM `singer` WHERE `age` > 30; it filters by age.",
        "SELECT `name` FROM `singer` WHERE `age` > 30",
    ),
    ("I cannot answer that.", "I cannot answer that."),
]


@pytest.mark.parametrize(("reply", "sql"), REPLIES)
def test_extract_sql(reply: str, sql: str) -> None:
    assert extract_sql(reply) == sql


def test_sql_is_settled_once_its_sql_block_closes() -> None:
    reply = "Here it is:\n```sql\nSELECT name FROM singer\n```"
    assert not sql_settled("Here it is:\n```sql\nSELECT name FROM sin")
    assert sql_settled(reply)
    # whatever follows a settled reply, the extracted SQL stays the same
    assert (
        extract_sql(reply + "\n\nOr:\n```sql\nSELECT 1\n```")
        == extract_sql(reply)
        == "SELECT name FROM singer"
    )


def test_bare_sql_untagged_blocks_and_think_sections_are_not_settled() -> None:
    assert not sql_settled("SELECT name FROM singer;")  # a later ```sql block would win
    assert not sql_settled("```\nSELECT 1\n```")  # likewise
    assert not sql_settled(
        "<think>\n```sql\nSELECT 1\n```"
    )  # the think section may not be closed yet
