"""Safe execution of one SQL query: read-only, time-limited, row-capped, errors as data.

`execute_sql` never raises for bad SQL; it returns an `ExecResult` whose `error_kind`
says what went wrong. Only a bad database reference (or a server that cannot be
reached) raises StudioError. Open connections are cached per process, keyed by the
database reference, and used by one query at a time.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.sql.connect import DatabaseRef, open_mysql, open_sqlite_readonly, parse_database
from studio.sql.guard import check_statement

ERROR_KINDS = ("syntax", "unknown_table", "unknown_column", "timeout", "refused", "other")
SQLITE_PROGRESS_STEPS = 10_000  # VM instructions between deadline checks
MYSQL_READ_MARGIN_S = 5.0  # the client gives up this long after the server should have

# MySQL / MariaDB error numbers -> error kinds
_MYSQL_KINDS = {
    1064: "syntax",
    1149: "syntax",
    1146: "unknown_table",
    1051: "unknown_table",
    1109: "unknown_table",
    1054: "unknown_column",
    1969: "timeout",
    3024: "timeout",
    1317: "timeout",
    1792: "refused",
    1142: "refused",
    1227: "refused",
    1044: "refused",
    1045: "refused",
}
_SQLITE_KINDS = (
    ("syntax error", "syntax"),
    ("incomplete input", "syntax"),
    ("unrecognized token", "syntax"),
    ("no such table", "unknown_table"),
    ("no such column", "unknown_column"),
    ("not authorized", "refused"),
    ("authorization denied", "refused"),
    ("readonly database", "refused"),
    ("one statement at a time", "refused"),
)


@dataclass
class ExecResult:
    """What one query returned: rows (tuples) or an error of a known kind."""

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


def _failure(kind: str, message: str, started: float) -> ExecResult:
    return ExecResult(
        ok=False, error_kind=kind, error=message, elapsed_s=time.monotonic() - started
    )


def execute_sql(
    ref: str | Path | DatabaseRef,
    sql: str,
    timeout_s: float = 30.0,
    max_rows: int | None = 10_000,
) -> ExecResult:
    """Run one read-only query; `max_rows=None` fetches everything (bounded by the timeout)."""
    database = parse_database(ref)
    started = time.monotonic()
    rejection = check_statement(sql, database.dialect)
    if rejection is not None:
        return _failure(rejection.kind, rejection.message, started)
    if database.dialect == "sqlite":
        return _run_sqlite(database, sql, timeout_s, max_rows, started)
    return _run_mysql(database, sql, timeout_s, max_rows, started)


@dataclass
class _Handle:
    connection: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    mariadb: bool = False


_HANDLES: dict[tuple, _Handle] = {}
_HANDLES_LOCK = threading.Lock()


def _cached(key: tuple, opener) -> _Handle:
    with _HANDLES_LOCK:
        handle = _HANDLES.get(key)
        if handle is None:
            handle = _HANDLES[key] = opener()
        return handle


def _forget(key: tuple) -> None:
    with _HANDLES_LOCK:
        handle = _HANDLES.pop(key, None)
    if handle is not None:
        with contextlib.suppress(Exception):  # a broken connection may fail to close; it is dropped
            handle.connection.close()


def close_connections() -> None:
    """Close every cached connection of this process."""
    for key in list(_HANDLES):
        _forget(key)


def _fetch(cursor, max_rows: int | None) -> tuple[list[tuple], bool]:
    if max_rows is None:
        return [tuple(row) for row in cursor.fetchall()], False
    rows = [tuple(row) for row in cursor.fetchmany(max_rows + 1)]
    return rows[:max_rows], len(rows) > max_rows


def _run_sqlite(
    database: DatabaseRef, sql: str, timeout_s: float, max_rows: int | None, started: float
) -> ExecResult:
    handle = _cached(
        ("sqlite", database.path), lambda: _Handle(open_sqlite_readonly(database.path))
    )
    connection: sqlite3.Connection = handle.connection
    with handle.lock:
        deadline = started + timeout_s
        expired = False

        def past_deadline() -> int:
            nonlocal expired
            expired = time.monotonic() > deadline
            return int(expired)

        connection.set_progress_handler(past_deadline, SQLITE_PROGRESS_STEPS)
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows, truncated = _fetch(cursor, max_rows)
        except sqlite3.Error as error:
            if expired:
                return _failure("timeout", f"query stopped after {timeout_s:g} s", started)
            return _failure(_sqlite_kind(str(error)), str(error), started)
        finally:
            cursor.close()
            connection.set_progress_handler(None, 0)
    return ExecResult(True, columns, rows, truncated, elapsed_s=time.monotonic() - started)


def _sqlite_kind(message: str) -> str:
    lowered = message.lower()
    return next((kind for fragment, kind in _SQLITE_KINDS if fragment in lowered), "other")


def _open_mysql_handle(database: DatabaseRef, read_timeout_s: float) -> _Handle:
    connection = open_mysql(database, read_timeout_s=read_timeout_s)
    return _Handle(connection, mariadb="mariadb" in connection.get_server_info().lower())


def _run_mysql(
    database: DatabaseRef,
    sql: str,
    timeout_s: float,
    max_rows: int | None,
    started: float,
    retried: bool = False,
) -> ExecResult:
    import pymysql

    read_timeout = timeout_s + MYSQL_READ_MARGIN_S
    key = ("mysql", database, read_timeout)
    handle = _cached(key, lambda: _open_mysql_handle(database, read_timeout))
    with handle.lock:
        try:
            _begin_read_only(handle, timeout_s)
        except pymysql.err.Error as error:  # a stale cached connection: reconnect once
            _forget(key)
            if retried:
                return _failure("other", f"cannot start a read-only transaction: {error}", started)
            return _run_mysql(database, sql, timeout_s, max_rows, started, retried=True)
        cursor = handle.connection.cursor(pymysql.cursors.SSCursor)
        try:
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows, truncated = _fetch(cursor, max_rows)
        except pymysql.err.OperationalError as error:
            if error.args and error.args[0] in (2006, 2013):  # the client gave up waiting
                _kill_query(database, handle.connection.thread_id())
                _forget(key)
                return _failure("timeout", f"query stopped after {timeout_s:g} s", started)
            return _mysql_failure(error, timeout_s, started, handle, key)
        except pymysql.MySQLError as error:
            return _mysql_failure(error, timeout_s, started, handle, key)
        else:
            _end_transaction(handle, key, cursor)
    elapsed = time.monotonic() - started
    if elapsed >= timeout_s:  # e.g. SLEEP() or BENCHMARK() cut short without an error
        return _failure("timeout", f"query stopped after {timeout_s:g} s", started)
    return ExecResult(True, columns, rows, truncated, elapsed_s=elapsed)


def _begin_read_only(handle: _Handle, timeout_s: float) -> None:
    with handle.connection.cursor() as cursor:
        if handle.mariadb:
            cursor.execute("SET SESSION max_statement_time = %s", (timeout_s,))
        else:
            cursor.execute("SET SESSION max_execution_time = %s", (int(timeout_s * 1000),))
        cursor.execute("START TRANSACTION READ ONLY")


def _end_transaction(handle: _Handle, key: tuple, cursor) -> None:
    """Drain and close the cursor, then roll back; a connection that fails this is dropped."""
    try:
        cursor.close()
        handle.connection.rollback()
    except Exception:  # noqa: BLE001 - whatever broke, the connection is not reused
        _forget(key)


def _mysql_failure(
    error, timeout_s: float, started: float, handle: _Handle, key: tuple
) -> ExecResult:
    import pymysql

    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    message = error.args[1] if len(error.args) > 1 else str(error)
    kind = _MYSQL_KINDS.get(code, "other")
    try:
        handle.connection.rollback()
    except pymysql.MySQLError:
        _forget(key)
    if kind == "timeout":
        return _failure(kind, f"query stopped after {timeout_s:g} s ({message})", started)
    return _failure(kind, f"({code}) {message}" if code else message, started)


def _kill_query(database: DatabaseRef, thread_id: int) -> None:
    """Stop a query the client stopped waiting for, so the server is not left busy."""
    import pymysql

    with contextlib.suppress(pymysql.MySQLError, StudioError):  # the query already ended
        killer = open_mysql(database, read_timeout_s=10)
        with killer.cursor() as cursor:
            cursor.execute("KILL QUERY %s", (thread_id,))
        killer.close()
