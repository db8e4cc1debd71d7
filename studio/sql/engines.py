"""One guarded query on SQLite or MySQL, run inside the executor process (studio.sql.sandbox).

The guard (studio.sql.guard) decides first; then the engine runs the query read-only with
its own deadline (SQLite's progress handler, MySQL's `max_statement_time`), its cell bound
(SQLite's length limit, a check per fetched cell) and the result bounds of
studio.sql.limits. Connections are cached per database for the life of the process.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

from studio.sql.account import MySQLSession, open_session
from studio.sql.connect import DatabaseRef, open_mysql, open_sqlite_readonly
from studio.sql.guard import check_statement
from studio.sql.limits import MIB, QueryBounds, ResultTooLarge, fetch_bounded
from studio.sql.result import ExecResult

SQLITE_PROGRESS_STEPS = 10_000  # VM instructions between deadline checks
MYSQL_READ_MARGIN_S = 0.5  # the client gives up this long after the server should have

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
    1301: "too_large",
    2020: "too_large",
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
    ("too big", "too_large"),
    ("out of memory", "too_large"),
)


def failure(kind: str, message: str, started: float) -> ExecResult:
    """A failed execution of `kind`, timed from `started`."""
    return ExecResult(
        ok=False, error_kind=kind, error=message, elapsed_s=time.monotonic() - started
    )


def run_query(
    database: DatabaseRef,
    sql: str,
    timeout_s: float,
    max_rows: int | None,
    bounds: QueryBounds,
) -> ExecResult:
    """Check `sql`, then run it on `database` within every bound; errors come back as data."""
    started = time.monotonic()
    rejection = check_statement(sql, database.dialect, database.database)
    if rejection is not None:
        return failure(rejection.kind, rejection.message, started)
    try:
        if database.dialect == "sqlite":
            return _run_sqlite(database, sql, timeout_s, max_rows, bounds, started)
        return _run_mysql(database, sql, timeout_s, max_rows, bounds, started)
    except ResultTooLarge as error:
        return failure("too_large", str(error), started)
    except MemoryError:
        return failure(
            "too_large",
            f"the query needed more than the executor's {bounds.memory_bytes // MIB} MiB",
            started,
        )


_SQLITE: dict[DatabaseRef, sqlite3.Connection] = {}
_MYSQL: dict[tuple[DatabaseRef, float], MySQLSession] = {}


def _run_sqlite(
    database: DatabaseRef,
    sql: str,
    timeout_s: float,
    max_rows: int | None,
    bounds: QueryBounds,
    started: float,
) -> ExecResult:
    connection = _SQLITE.get(database)
    if connection is None:
        connection = _SQLITE[database] = open_sqlite_readonly(database.path)
    connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, bounds.cell_bytes)
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
        rows, truncated = fetch_bounded(cursor, max_rows, bounds)
    except sqlite3.Error as error:
        if expired:
            return failure("timeout", f"query stopped after {timeout_s:g} s", started)
        return failure(_sqlite_kind(str(error)), str(error), started)
    finally:
        cursor.close()
        connection.set_progress_handler(None, 0)
    return ExecResult(True, columns, rows, truncated, elapsed_s=time.monotonic() - started)


def _sqlite_kind(message: str) -> str:
    lowered = message.lower()
    return next((kind for fragment, kind in _SQLITE_KINDS if fragment in lowered), "other")


def _run_mysql(
    database: DatabaseRef,
    sql: str,
    timeout_s: float,
    max_rows: int | None,
    bounds: QueryBounds,
    started: float,
    retried: bool = False,
) -> ExecResult:
    import pymysql

    key = (database, timeout_s)
    session = _MYSQL.get(key)
    if session is None:
        session = _MYSQL[key] = open_session(database, timeout_s + MYSQL_READ_MARGIN_S)
    try:
        session.begin_read_only(timeout_s, max_rows)
    except pymysql.err.Error as error:  # a stale cached connection: reconnect once
        _drop_mysql(key)
        if retried:
            return failure("other", f"cannot start a read-only transaction: {error}", started)
        return _run_mysql(database, sql, timeout_s, max_rows, bounds, started, retried=True)
    cursor = session.connection.cursor(pymysql.cursors.SSCursor)
    try:
        cursor.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows, truncated = fetch_bounded(cursor, max_rows, bounds)
    except pymysql.err.OperationalError as error:
        if error.args and error.args[0] in (2006, 2013):  # the client gave up waiting
            _abandon(key, session, cursor)
            return failure("timeout", f"query stopped after {timeout_s:g} s", started)
        return _mysql_failure(error, timeout_s, started, key)
    except pymysql.MySQLError as error:
        return _mysql_failure(error, timeout_s, started, key)
    except BaseException:
        _abandon(key, session, cursor)  # rows may still be in flight: never drain them
        raise
    if truncated:
        _abandon(key, session, cursor)
    else:
        _end_transaction(key, cursor)
    elapsed = time.monotonic() - started
    if elapsed >= timeout_s:  # e.g. SLEEP() or BENCHMARK() cut short without an error
        return failure("timeout", f"query stopped after {timeout_s:g} s", started)
    return ExecResult(True, columns, rows, truncated, elapsed_s=elapsed)


def _end_transaction(key: tuple[DatabaseRef, float], cursor: Any) -> None:
    """Close the drained cursor and roll back; a connection that fails this is dropped."""
    try:
        cursor.close()
        _MYSQL[key].connection.rollback()
    except Exception:  # noqa: BLE001 - whatever broke, the connection is not reused
        _drop_mysql(key)


def _abandon(key: tuple[DatabaseRef, float], session: MySQLSession, cursor: Any) -> None:
    """Stop the server's query and drop the connection without reading what is left."""
    _kill_query(key[0], session.connection.thread_id())
    unread = getattr(cursor, "_result", None)  # pymysql would drain it when the cursor goes
    if unread is not None and hasattr(unread, "unbuffered_active"):
        unread.unbuffered_active = False
    _drop_mysql(key)


def _drop_mysql(key: tuple[DatabaseRef, float]) -> None:
    session = _MYSQL.pop(key, None)
    if session is not None:
        with contextlib.suppress(Exception):  # a broken connection may fail to close
            session.connection.close()


def _mysql_failure(
    error: Exception, timeout_s: float, started: float, key: tuple[DatabaseRef, float]
) -> ExecResult:
    import pymysql

    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    message = error.args[1] if len(error.args) > 1 else str(error)
    kind = _MYSQL_KINDS.get(code, "other")
    try:
        _MYSQL[key].connection.rollback()
    except (pymysql.MySQLError, KeyError):
        _drop_mysql(key)
    if kind == "timeout":
        return failure(kind, f"query stopped after {timeout_s:g} s ({message})", started)
    return failure(kind, f"({code}) {message}" if code else message, started)


def _kill_query(database: DatabaseRef, thread_id: int) -> None:
    """Stop a query the client stopped reading, so the server is not left busy."""
    import pymysql

    from studio.errors import StudioError

    with contextlib.suppress(pymysql.MySQLError, StudioError):  # the query already ended
        killer = open_mysql(database, read_timeout_s=10)
        with killer.cursor() as cursor:
            cursor.execute("KILL QUERY %s", (thread_id,))
        killer.close()
