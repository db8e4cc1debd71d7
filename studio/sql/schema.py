"""Database schema as plain dataclasses: what introspection returns and prompts render."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Column:
    """One column; `samples` are a few distinct example values, `description` from BIRD CSVs."""

    name: str
    type: str
    primary_key: bool = False
    nullable: bool = True
    samples: list[Any] = field(default_factory=list)
    description: str | None = None
    value_description: str | None = None


@dataclass
class ForeignKey:
    """`columns` of the owning table reference `ref_columns` of `ref_table`."""

    columns: list[str]
    ref_table: str
    ref_columns: list[str]


@dataclass
class Table:
    name: str
    columns: list[Column]
    foreign_keys: list[ForeignKey] = field(default_factory=list)

    def column(self, name: str) -> Column | None:
        """The column called `name` (case-insensitive), or None."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


@dataclass
class Schema:
    """All tables of one database; `dialect` is "sqlite" or "mysql"."""

    database: str
    dialect: str
    tables: list[Table]

    def table(self, name: str) -> Table | None:
        """The table called `name` (case-insensitive), or None."""
        lowered = name.lower()
        return next((t for t in self.tables if t.name.lower() == lowered), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        tables = [
            Table(
                name=t["name"],
                columns=[Column(**c) for c in t["columns"]],
                foreign_keys=[ForeignKey(**fk) for fk in t.get("foreign_keys", [])],
            )
            for t in data["tables"]
        ]
        return cls(database=data["database"], dialect=data["dialect"], tables=tables)
