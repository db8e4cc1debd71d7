"""Which tables an example needs: those its gold SQL reads (sqlglot), else those its text names."""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from studio.data.schema_text import SQLGLOT_DIALECTS
from studio.sql.parse import parse_statements
from studio.sql.schema import Schema


def referenced_tables(sql: str, dialect: str) -> set[str] | None:
    """Lowercase names of the tables `sql` reads (CTE names excluded); None when it does not
    parse."""
    try:
        statements = parse_statements(sql, SQLGLOT_DIALECTS.get(dialect, dialect))
    except (ParseError, TokenError):
        return None
    names: set[str] = set()
    for tree in statements:
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        names |= {
            t.name.lower()
            for t in tree.find_all(exp.Table)
            if t.name and t.name.lower() not in ctes
        }
    return names or None


def mentioned_tables(schema: Schema, text: str) -> set[str]:
    """Lowercase names of the tables whose name (underscores read as spaces) appears as words in
    `text`."""
    lowered = " ".join(re.findall(r"\w+", text.lower()))
    found = set()
    for table in schema.tables:
        words = " ".join(re.findall(r"\w+", table.name.lower().replace("_", " ")))
        if words and re.search(rf"\b{re.escape(words)}s?\b", lowered):
            found.add(table.name.lower())
    return found


def related_tables(
    schema: Schema, gold_sql: str | None, question: str, evidence: str | None
) -> set[str]:
    """Tables to keep when unrelated ones must go: the gold SQL's, else those the text mentions."""
    known = {table.name.lower() for table in schema.tables}
    if gold_sql:
        referenced = referenced_tables(gold_sql, schema.dialect)
        if referenced:
            return referenced & known
    return mentioned_tables(schema, f"{question} {evidence or ''}")
