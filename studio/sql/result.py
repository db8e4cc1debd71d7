"""What one query returned: rows or an error of a known kind, in a JSON-ready form."""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ExecResult:
    """What one query returned: rows (tuples), or an error whose `error_kind` is one of
    syntax, unknown_table, unknown_column, timeout, too_large, refused, other."""

    ok: bool
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    truncated: bool = False
    error_kind: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: rows as lists, decimals/dates as text, bytes as hex."""
        return {
            "ok": self.ok,
            "columns": self.columns,
            "rows": [[json_value(v) for v in row] for row in self.rows],
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "elapsed_s": round(self.elapsed_s, 6),
            "error_kind": self.error_kind,
            "error": self.error,
        }


def json_value(value: Any) -> Any:
    """A value as JSON can hold it."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        return str(value)
    return value


def display_value(value: Any, limit: int = 1_000) -> Any:
    """`json_value(value)`, with text longer than `limit` characters cut and its length told."""
    value = json_value(value)
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}... ({len(value):,} characters)"
    return value
