"""Spider's hardness of a query (easy, medium, hard, extra), from its SQL.

Spider's evaluation script labels each gold query by counting its components on the top-level
query: WHERE, GROUP BY, ORDER BY, LIMIT, each join, each OR and each LIKE (component 1); nested
queries in conditions or FROM and a set operation (component 2); more than one aggregate,
selected column, WHERE condition or GROUP BY key (others). The same rules run here on sqlglot's
tree, so a dataset without difficulty labels (SpiderMan) gets Spider's breakdown; a label can
differ from Spider's published one where the two parsers read a query differently.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from studio.sql.parse import parse_one

HARDNESS_ORDER = ("easy", "medium", "hard", "extra")
AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)
NESTED = (exp.Select, exp.SetOperation)


def _top_level(clause: exp.Expression | None) -> Iterator[tuple[exp.Expression, bool]]:
    """A clause's nodes, each with whether it is a query nested in the clause (whose own nodes
    are not visited)."""
    if clause is None:
        return iter(())
    nested = lambda node: isinstance(node, NESTED) and node is not clause  # noqa: E731
    return ((node, nested(node)) for node in clause.walk(prune=nested))


def _in_scope(clause: exp.Expression | None) -> Iterator[exp.Expression]:
    """The nodes of a clause of the top-level query, not those of queries nested in it."""
    return (node for node, nested in _top_level(clause) if not nested)


def _nested(clause: exp.Expression | None) -> int:
    """Queries nested directly in a clause (a subquery in a condition or in FROM)."""
    return sum(nested for _, nested in _top_level(clause))


def _conditions(clause: exp.Expression | None) -> exp.Expression | None:
    return clause.this if isinstance(clause, (exp.Where, exp.Having)) else clause


def _count(nodes: Iterator[exp.Expression], kinds: tuple[type, ...]) -> int:
    return sum(1 for node in nodes if isinstance(node, kinds))


def _components(query: exp.Select, set_operations: int) -> tuple[int, int, int]:
    """Spider's (component 1, component 2, others) counts of a top-level SELECT."""
    where, having = query.args.get("where"), query.args.get("having")
    group, joins = query.args.get("group"), query.args.get("joins") or []
    join_conditions = [join.args.get("on") for join in joins if join.args.get("on") is not None]
    conditions = [*join_conditions, _conditions(where), _conditions(having)]
    first = sum(bool(query.args.get(key)) for key in ("where", "group", "order", "limit")) + len(
        joins
    )
    for condition in conditions:
        first += _count(_in_scope(condition), (exp.Or, exp.Like))
    second = set_operations + sum(
        _nested(clause) for clause in (where, having, query.args.get("from_"), *joins)
    )
    aggregates = sum(
        _count(_in_scope(clause), AGGREGATES)
        for clause in (*query.expressions, where, group, query.args.get("order"), having)
    )
    group_keys = len(group.expressions) if group is not None else 0
    where_conditions = where is not None and isinstance(where.this.unnest(), (exp.And, exp.Or))
    others = sum((aggregates > 1, len(query.expressions) > 1, where_conditions, group_keys > 1))
    return first, second, others


def spider_hardness(sql: str, dialect: str = "sqlite") -> str | None:
    """easy, medium, hard or extra by Spider's rules; None when the SQL does not parse as a
    query."""
    try:
        tree = parse_one(sql, dialect)
    except (ParseError, TokenError):
        return None
    set_operations = 0
    while isinstance(tree, exp.SetOperation):  # Spider reads A UNION B as A with B nested
        set_operations = 1
        tree = tree.this
    if isinstance(tree, exp.Subquery):
        tree = tree.unnest()
    if not isinstance(tree, exp.Select):
        return None
    first, second, others = _components(tree, set_operations)
    if first <= 1 and others == 0 and second == 0:
        return "easy"
    if (others <= 2 and first <= 1 and second == 0) or (first <= 2 and others < 2 and second == 0):
        return "medium"
    if (
        (others > 2 and first <= 2 and second == 0)
        or (2 < first <= 3 and others <= 2 and second == 0)
        or (first <= 1 and others == 0 and second <= 1)
    ):
        return "hard"
    return "extra"
