"""Render a Schema as prompt text in one of the schema styles.

    ddl               CREATE TABLE statements with primary and foreign keys
    compact           one `table(col, col, ...)` line per table, then the keys
    enriched          ddl plus BIRD column descriptions, value descriptions and sample values
    enriched-compact  compact plus the same, one indented line per described column

Identifiers are quoted the dialect's way (through sqlglot) only when they need it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from studio.errors import StudioError
from studio.sql.schema import Column, Schema, Table

SCHEMA_STYLES = ("ddl", "compact", "enriched", "enriched-compact")
MAX_SAMPLE_CHARS = 40
SQLGLOT_DIALECTS = {
    "sqlite": "sqlite",
    "mysql": "mysql",
    "postgresql": "postgres",
    "postgres": "postgres",
}
# Words reserved in common SQL dialects that sqlglot's SQLite generator would leave bare.
RESERVED_WORDS = Dialect.get_or_raise("mysql").generator_class.RESERVED_KEYWORDS


@dataclass(frozen=True)
class SchemaView:
    """What to show of a schema: the layout, which enrichments, and which tables."""

    layout: str  # "ddl" or "compact"
    samples: bool
    descriptions: bool
    tables: frozenset[str] | None = None  # lowercase names to keep; None keeps all

    def without_samples(self) -> SchemaView:
        return replace(self, samples=False)

    def without_descriptions(self) -> SchemaView:
        return replace(self, descriptions=False)

    def only_tables(self, names: set[str]) -> SchemaView:
        return replace(self, tables=frozenset(name.lower() for name in names))


def view_for_style(style: str) -> SchemaView:
    """The full view of a schema style name."""
    if style not in SCHEMA_STYLES:
        raise StudioError(
            f"schema style {style!r} is unknown; use one of {', '.join(SCHEMA_STYLES)}"
        )
    enriched = style.startswith("enriched")
    return SchemaView(
        layout="compact" if style.endswith("compact") else "ddl",
        samples=enriched,
        descriptions=enriched,
    )


def render_schema(schema: Schema, view: SchemaView) -> str:
    """The schema as prompt text."""
    tables = [t for t in schema.tables if view.tables is None or t.name.lower() in view.tables]
    if view.layout == "compact":
        return _render_compact(tables, schema.dialect, view)
    return "\n\n".join(_render_create_table(table, schema.dialect, view) for table in tables)


def quote_identifier(name: str, dialect: str) -> str:
    """`name` as the dialect writes it: bare when safe, quoted when unsafe or a reserved word."""
    sqlglot_dialect = SQLGLOT_DIALECTS.get(dialect, dialect)
    identifier = exp.to_identifier(name)
    if name.lower() in RESERVED_WORDS:
        identifier = exp.to_identifier(name, quoted=True)
    return identifier.sql(dialect=sqlglot_dialect)


def _render_create_table(table: Table, dialect: str, view: SchemaView) -> str:
    def q(name: str) -> str:
        return quote_identifier(name, dialect)

    key_columns = [c.name for c in table.columns if c.primary_key]
    lines: list[tuple[str, str]] = []  # (definition, comment)
    for column in table.columns:
        definition = f"{q(column.name)} {column.type}".rstrip()
        if column.primary_key and len(key_columns) == 1:
            definition += " PRIMARY KEY"
        lines.append((definition, _column_comment(column, view)))
    if len(key_columns) > 1:
        lines.append((f"PRIMARY KEY ({', '.join(q(c) for c in key_columns)})", ""))
    for fk in table.foreign_keys:
        reference = f"{q(fk.ref_table)}({', '.join(q(c) for c in fk.ref_columns)})"
        lines.append(
            (f"FOREIGN KEY ({', '.join(q(c) for c in fk.columns)}) REFERENCES {reference}", "")
        )
    body = []
    for position, (definition, comment) in enumerate(lines):
        separator = "," if position < len(lines) - 1 else ""
        body.append(f"  {definition}{separator}" + (f" -- {comment}" if comment else ""))
    return f"CREATE TABLE {q(table.name)} (\n" + "\n".join(body) + "\n);"


def _render_compact(tables: list[Table], dialect: str, view: SchemaView) -> str:
    def q(name: str) -> str:
        return quote_identifier(name, dialect)

    lines = []
    for table in tables:
        lines.append(f"{q(table.name)}({', '.join(q(c.name) for c in table.columns)})")
        for column in table.columns:
            comment = _column_comment(column, view)
            if comment:
                lines.append(f"  {q(column.name)}: {comment}")
    keys = [f"{q(t.name)}.{q(c.name)}" for t in tables for c in t.columns if c.primary_key]
    if keys:
        lines.append("Primary keys: " + ", ".join(keys))
    links = [
        f"{q(t.name)}.{q(col)} = {q(fk.ref_table)}.{q(ref)}"
        for t in tables
        for fk in t.foreign_keys
        for col, ref in zip(fk.columns, fk.ref_columns, strict=False)
    ]
    if links:
        lines.append("Foreign keys: " + ", ".join(links))
    return "\n".join(lines)


def _column_comment(column: Column, view: SchemaView) -> str:
    parts = []
    if view.descriptions:
        if column.description and column.description.strip().lower() != column.name.strip().lower():
            parts.append(column.description)
        if column.value_description:
            parts.append(f"values: {column.value_description}")
    if view.samples and column.samples:
        parts.append("e.g. " + ", ".join(_sample_literal(value) for value in column.samples))
    return "; ".join(parts)


def _sample_literal(value: Any) -> str:
    if isinstance(value, str):
        text = " ".join(value.split())
        if len(text) > MAX_SAMPLE_CHARS:
            text = text[: MAX_SAMPLE_CHARS - 1] + "…"
        return "'" + text.replace("'", "''") + "'"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)
