"""Result comparison: BIRD's execution-accuracy rule and Spider's order-aware variant."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

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


def rows_digest(rows: Iterable[Sequence]) -> str:
    """A digest of `rows` under the set rule: equal for two results exactly when
    `results_match(a, b)` holds without order (barring a hash collision), so results can be
    compared after their rows are gone. Numbers equal in value count as equal (1, 1.0, True).
    """
    keys = sorted({repr(tuple(_canonical(value) for value in row)) for row in rows})
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def rows_overlap(pred_rows: Iterable[Sequence], gold_rows: Iterable[Sequence]) -> float:
    """Jaccard similarity of the two results' sets of rows (the set rule's rows, numbers equal in
    value counting as equal): 1.0 exactly when `results_match` holds without order (two empty
    results included), 0.0 when no row is shared."""
    pred = {tuple(_canonical(value) for value in row) for row in pred_rows}
    gold = {tuple(_canonical(value) for value in row) for row in gold_rows}
    union = pred | gold
    return len(pred & gold) / len(union) if union else 1.0


def _canonical(value: Any) -> Any:
    """One representation for the values Python finds equal: integral numbers as int, other
    decimals as float when the float is exact."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return int(value)
        return float(value) if float(value) == value else value.normalize()
    return value


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
