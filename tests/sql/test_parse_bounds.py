"""SQL beyond the parser never raises out of the helpers that read gold or model SQL."""

from __future__ import annotations

import pytest

from studio.data.relevance import referenced_tables
from studio.sql.compare import gold_requires_order
from studio.sql.dialect import normalize_sql, parse_error
from studio.sql.parse import MAX_NESTING, MAX_SQL_CHARS, TooComplex, parse_statements

DEEP = "SELECT " + "(" * 48 + "1" + ")" * 48 + " ORDER BY 1"
CASES = "SELECT " + "CASE WHEN 1 = 1 THEN " * 100 + "1" + " END" * 100
LONG = "SELECT " + " + ".join(["1"] * 40_000)


@pytest.mark.parametrize("sql", [DEEP, CASES, LONG])
@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_helpers_answer_for_sql_beyond_the_parser(sql: str, dialect: str) -> None:
    with pytest.raises(TooComplex, match="too complex"):
        parse_statements(sql, dialect)
    assert parse_error(sql, dialect).startswith("too complex")
    assert normalize_sql(sql, dialect) == " ".join(sql.split())
    assert gold_requires_order(sql, dialect) is False
    assert referenced_tables(sql, dialect) is None


def test_the_limits_leave_room_for_real_queries() -> None:
    nested = "SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING + " FROM t ORDER BY 1"
    assert len(parse_statements(nested, "mysql")) == 1 and gold_requires_order(nested, "mysql")
    assert len(LONG) > MAX_SQL_CHARS
    wide = "SELECT " + ", ".join(f"c{i}" for i in range(5_000)) + " FROM t"
    assert len(wide) < MAX_SQL_CHARS and len(parse_statements(wide, "sqlite")) == 1
