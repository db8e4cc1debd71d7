"""Safe execution of one SQL query: read-only, time-limited, bounded, errors as data.

`execute_sql` never raises for bad SQL; it returns an `ExecResult` whose `error_kind`
says what went wrong. Only a bad database reference (or a server that cannot be reached,
or an account refused by `STUDIO_SQL_READ_ONLY_ACCOUNT=require`) raises StudioError. The
query runs in an executor process (studio.sql.sandbox) under the guard
(studio.sql.guard) and the bounds of studio.sql.limits.
"""

from __future__ import annotations

from pathlib import Path

from studio.sql.connect import DatabaseRef, parse_database
from studio.sql.result import ExecResult
from studio.sql.sandbox import Request, run_sandboxed

__all__ = ["ExecResult", "execute_sql"]


def execute_sql(
    ref: str | Path | DatabaseRef,
    sql: str,
    timeout_s: float = 30.0,
    max_rows: int | None = 10_000,
) -> ExecResult:
    """Run one read-only query; `max_rows=None` fetches all rows the result bound allows."""
    return run_sandboxed(Request(parse_database(ref), sql, float(timeout_s), max_rows))
