"""Result comparison: BIRD's execution-accuracy rule and Spider's order-aware variant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from studio.sql.parse import parse_statements


def results_match(
    pred_rows: Iterable[Sequence], gold_rows: Iterable[Sequence], order_matters: bool = False
) -> bool:
    """BIRD's EX rule by default: `set(pred) == set(gold)` over row tuples (row order,
    duplicate rows ignored; column order counts). With `order_matters`, the rows must be
    equal as lists (Spider's convention for a gold query with a top-level ORDER BY).
    """
    pred = [tuple(row) for row in pred_rows]
    gold = [tuple(row) for row in gold_rows]
    if order_matters:
        return pred == gold
    return set(pred) == set(gold)


def gold_requires_order(sql: str, dialect: str) -> bool:
    """True when the outermost query has an ORDER BY (SQL sqlglot cannot parse: False)."""
    try:
        statements = parse_statements(sql, dialect)
    except (ParseError, TokenError):
        return False
    if len(statements) != 1:
        return False
    tree = statements[0]
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return bool(tree.args.get("order"))
