"""sqlglot helpers: syntax checks, a normal form for de-duplicating SQL, transpiling."""

from __future__ import annotations

from collections import Counter

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from studio.errors import StudioError
from studio.sql.parse import parse_one

DIALECTS = ("sqlite", "mysql")


def parse_error(sql: str, dialect: str) -> str | None:
    """None when `sql` is one statement sqlglot can parse in `dialect`, else the reason."""
    try:
        parse_one(sql, dialect)
    except (ParseError, TokenError) as error:
        return str(error).splitlines()[0]
    return None


def normalize_sql(sql: str, dialect: str) -> str:
    """A normal form of one statement: equal for SQL that differs only in whitespace, keyword
    and identifier case, identifier quoting, comments, table aliases, output column aliases
    and redundant table qualifiers in single-table queries. SQL sqlglot cannot parse is
    returned whitespace-collapsed, so it still de-duplicates against itself.
    """
    try:
        tree = parse_one(sql, dialect).copy()
        for identifier in tree.find_all(exp.Identifier):
            identifier.set("quoted", False)
            identifier.set("this", identifier.name.lower())
        _canonical_table_aliases(tree)
        _drop_single_source_qualifiers(tree)
        _drop_output_aliases(tree)
        return tree.sql(dialect=dialect, comments=False, normalize_functions="upper")
    except Exception:  # noqa: BLE001 - unparsable, too deep or beyond sqlglot's scope rules
        return " ".join(sql.split()).rstrip(";").strip()


def _canonical_table_aliases(tree: exp.Expression) -> None:
    """Name every table reference after its table, `<table>_<n>` when the query uses it twice.

    Aliases are resolved scope by scope (Spider reuses T1/T2 in every subquery), and a
    correlated column is resolved against the enclosing scopes.
    """
    scopes = traverse_scope(tree)
    cte_names = {cte.alias for cte in tree.find_all(exp.CTE)}
    uses = Counter(t.name for scope in scopes for t in scope.tables if t.name not in cte_names)
    seen: Counter[str] = Counter()
    renames: dict[int, dict[str, str]] = {}
    new_aliases: list[tuple[exp.Table, str]] = []
    for scope in scopes:
        renames[id(scope)] = {}
        for table in scope.tables:
            if table.name in cte_names:
                continue
            seen[table.name] += 1
            canonical = table.name if uses[table.name] == 1 else f"{table.name}_{seen[table.name]}"
            renames[id(scope)][table.alias_or_name] = canonical
            new_aliases.append((table, canonical))
    for scope in scopes:
        for column in scope.columns:
            owner = scope
            while owner is not None and column.table:
                if column.table in renames[id(owner)]:
                    column.set("table", exp.to_identifier(renames[id(owner)][column.table]))
                    break
                if column.table in owner.sources:
                    break
                owner = owner.parent
    for table, canonical in new_aliases:
        alias = (
            None if canonical == table.name else exp.TableAlias(this=exp.to_identifier(canonical))
        )
        table.set("alias", alias)


def _drop_single_source_qualifiers(tree: exp.Expression) -> None:
    """In a SELECT over a single table, `t.col` and `col` are the same column."""
    for scope in traverse_scope(tree):
        if len(scope.sources) != 1:
            continue
        (name,) = scope.sources
        for column in scope.columns:
            if column.table == name and column.find_ancestor(exp.Select) is scope.expression:
                column.set("table", None)


def _drop_output_aliases(tree: exp.Expression) -> None:
    """Output names of the outermost SELECT(s) do not change the rows; inline their uses."""
    branches = [tree]
    while branches and isinstance(branches[-1], exp.SetOperation):
        node = branches.pop()
        branches += [node.left, node.right]
    for select in (b for b in branches if isinstance(b, exp.Select)):
        aliased = {p.alias: p for p in select.expressions if isinstance(p, exp.Alias)}
        for clause in ("order", "group", "having"):
            part = select.args.get(clause)
            for column in list(part.find_all(exp.Column)) if part else []:
                if not column.table and column.name in aliased:
                    column.replace(aliased[column.name].this.copy())
        for alias in aliased.values():
            alias.replace(alias.this)


def transpile(sql: str, source: str, target: str) -> str:
    """One statement rewritten from the `source` dialect into the `target` dialect."""
    for dialect in (source, target):
        if dialect not in DIALECTS:
            raise StudioError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    try:
        tree = parse_one(sql, source)
    except (ParseError, TokenError) as error:
        raise StudioError(
            f"cannot transpile: the SQL does not parse as {source} ({str(error).splitlines()[0]})"
        ) from error
    return tree.sql(dialect=target)
