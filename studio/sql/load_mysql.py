"""Load a SQLite database, or a `schema.sql` + `data/<table>.csv` folder, into MySQL/MariaDB.

So that the same benchmark runs in either dialect:

    load_into_mysql("/data/sqlite/concert_singer.sqlite", "mysql://root@127.0.0.1:3306/concert_singer")
    load_into_mysql("/data/mysql/concert_singer", "mysql://root@127.0.0.1:3306/concert_singer")

SQLite DDL is transpiled by sqlglot (TEXT key columns become VARCHAR(255), which MySQL
can index); MySQL DDL from schema.sql is re-targeted at the chosen database. In non-text
columns '' and the word NULL load as NULL (as MySQL's LOAD DATA reads a CSV dump). A value
longer than its declared VARCHAR (SQLite never enforces lengths) widens the column rather
than being cut. A load that fails drops the database it created, so nothing half-loaded
is left behind.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from studio.errors import StudioError
from studio.sql.connect import SQLITE_MAGIC, parse_database

BATCH_ROWS = 1000
KEY_TEXT_TYPE = "VARCHAR(255)"
NULL_WORDS = ("", "NULL")  # how CSV dumps write NULL; read as NULL in non-text columns
MAX_VARCHAR = 16000
DATA_TOO_LONG = 1406
TEXT_TYPES = {
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "enum",
    "set",
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
}


@dataclass
class LoadResult:
    """What was loaded: the database's URL, rows per table, foreign keys MySQL refused, widened
    columns."""

    url: str
    rows: dict[str, int] = field(default_factory=dict)
    skipped_foreign_keys: list[str] = field(default_factory=list)
    widened_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Source:
    name: str
    create_statements: list[str]
    tables: list[str]
    sqlite_path: Path | None = None
    csv_folder: Path | None = None


def load_into_mysql(
    source: str | Path, mysql_url: str, database_name: str | None = None, replace: bool = False
) -> LoadResult:
    """Create database `database_name` (default: the URL's) on the server and load `source` into it.

    An existing database is an error unless `replace`, which drops it first.
    """
    import pymysql

    server = parse_database(mysql_url)
    if server.dialect != "mysql":
        raise StudioError(f"--url {mysql_url!r} is not a mysql:// URL")
    loaded = _read_source(Path(source))
    name = database_name or server.database or loaded.name
    try:
        connection = pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password or "",
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=10,
        )
    except pymysql.MySQLError as error:
        raise StudioError(
            f"cannot connect to {server}: {error}; check that the server runs and the URL's "
            "user and password are right"
        ) from error
    parts = urlsplit(mysql_url)
    result = LoadResult(url=urlunsplit((parts.scheme, parts.netloc, "/" + quote(name), "", "")))
    try:
        with connection.cursor() as cursor:
            _create_database(cursor, name, replace, str(server))
            try:
                _load(cursor, name, loaded, result)
            except BaseException:
                cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)}")
                raise
    finally:
        connection.close()
    return result


def _read_source(path: Path) -> _Source:
    if path.is_file():
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise StudioError(
                    f"{path} is not a SQLite database; pass a .sqlite file or a folder "
                    "holding schema.sql and data/<table>.csv"
                )
        return _read_sqlite_source(path)
    if (path / "schema.sql").is_file():
        return _read_folder_source(path)
    raise StudioError(
        f"{path} is neither a SQLite file nor a folder with schema.sql (and data/<table>.csv); "
        "pass one of those"
    )


def _read_sqlite_source(path: Path) -> _Source:
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        ).fetchall()
    finally:
        connection.close()
    statements = _parse_ddl(";\n".join(sql for _, sql in rows), "sqlite", path)
    _adapt_sqlite_types(statements)
    return _Source(
        name=path.stem,
        create_statements=[s.sql(dialect="mysql") for s in statements],
        tables=[name for name, _ in rows],
        sqlite_path=path,
    )


def _read_folder_source(folder: Path) -> _Source:
    statements = _parse_ddl(
        (folder / "schema.sql").read_text(encoding="utf-8-sig"), "mysql", folder / "schema.sql"
    )
    creates = [s for s in statements if isinstance(s, exp.Create)]
    for statement in creates:
        for table in statement.find_all(exp.Table):
            table.set("db", None)  # schema.sql names its own database; load into the chosen one
    tables = [s.this.find(exp.Table).name for s in creates]
    return _Source(
        name=folder.name,
        create_statements=[s.sql(dialect="mysql") for s in creates],
        tables=tables,
        csv_folder=folder / "data",
    )


def _parse_ddl(sql: str, dialect: str, origin: Path) -> list[exp.Expression]:
    try:
        return [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as error:
        raise StudioError(
            f"{origin}: the {dialect} DDL does not parse ({str(error).splitlines()[0]})"
        ) from None


def _adapt_sqlite_types(statements: Sequence[exp.Expression]) -> None:
    """Types MySQL refuses: TEXT/BLOB keys become VARCHAR(255) (MySQL indexes no unbounded text),
    untyped columns TEXT, and DOUBLE(p) (SQLite's FLOAT(p)) plain DOUBLE."""
    keyed: set[tuple[str, str]] = set()
    for statement in statements:
        table = statement.this.find(exp.Table).name.lower()
        for constraint in statement.find_all(
            exp.PrimaryKey, exp.UniqueColumnConstraint, exp.ForeignKey
        ):
            keyed |= {(table, c.name.lower()) for c in constraint.find_all(exp.Identifier)}
        for reference in statement.find_all(exp.Reference):
            target = reference.find(exp.Table)
            schema = reference.find(exp.Schema)
            for column in schema.expressions if schema else []:
                keyed.add((target.name.lower(), column.name.lower()))
        for column in statement.find_all(exp.ColumnDef):
            if column.find(exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint):
                keyed.add((table, column.name.lower()))
    for statement in statements:
        table = statement.this.find(exp.Table).name.lower()
        for column in statement.find_all(exp.ColumnDef):
            kind = column.args.get("kind")
            is_key = (table, column.name.lower()) in keyed
            if kind is None:
                column.set("kind", exp.DataType.build(KEY_TEXT_TYPE if is_key else "TEXT"))
            elif is_key and kind.this in (exp.DataType.Type.TEXT, exp.DataType.Type.BLOB):
                column.set("kind", exp.DataType.build(KEY_TEXT_TYPE))
            elif kind.this == exp.DataType.Type.DOUBLE and len(kind.expressions) == 1:
                kind.set("expressions", [])


def _create_database(cursor: Any, name: str, replace: bool, server: str) -> None:
    cursor.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
    if cursor.fetchone():
        if not replace:
            raise StudioError(
                f"database {name!r} already exists on {server}; pass --replace to drop and reload "
                "it, or choose another database name in the URL"
            )
        cursor.execute(f"DROP DATABASE {_quote(name)}")
    cursor.execute(f"CREATE DATABASE {_quote(name)} CHARACTER SET utf8mb4")


def _load(cursor: Any, name: str, source: _Source, result: LoadResult) -> None:
    import pymysql

    cursor.execute(f"USE {_quote(name)}")
    cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
    for statement in source.create_statements:
        try:
            cursor.execute(statement)
        except pymysql.MySQLError as error:
            _create_without_foreign_keys(cursor, statement, error, result)
    for table in source.tables:
        columns = _column_types(cursor, name, table)
        rows = (
            _sqlite_rows(source.sqlite_path, table)
            if source.sqlite_path
            else _csv_rows(source.csv_folder, table)
        )
        result.rows[table] = _insert(cursor, table, columns, rows, result)
    cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def _create_without_foreign_keys(
    cursor: Any, statement: str, error: Exception, result: LoadResult
) -> None:
    """Retry a CREATE TABLE that MySQL refused without its FOREIGN KEY clauses, noting them."""
    import pymysql

    tree = sqlglot.parse_one(statement, read="mysql")
    foreign_keys = list(tree.find_all(exp.ForeignKey))
    if not foreign_keys:
        raise StudioError(f"MySQL refused {statement[:200]}: {error}") from None
    for foreign_key in foreign_keys:
        result.skipped_foreign_keys.append(
            f"{tree.this.find(exp.Table).name}: {foreign_key.sql(dialect='mysql')}"
        )
        foreign_key.pop()
    try:
        cursor.execute(tree.sql(dialect="mysql"))
    except pymysql.MySQLError as retry_error:
        raise StudioError(f"MySQL refused {statement[:200]}: {retry_error}") from None


def _column_types(cursor: Any, database: str, table: str) -> dict[str, str]:
    cursor.execute(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (database, table),
    )
    return {column: data_type.lower() for column, data_type in cursor.fetchall()}


def _sqlite_rows(path: Path, table: str) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    cursor = connection.execute(f'SELECT * FROM "{table.replace(chr(34), chr(34) * 2)}"')
    header = [d[0] for d in cursor.description]

    def rows() -> Iterator[tuple[Any, ...]]:
        try:
            yield from cursor
        finally:
            connection.close()

    return header, rows()


def _csv_rows(folder: Path, table: str) -> tuple[list[str], Iterator[list[str]]]:
    path = (
        next((p for p in folder.glob("*.csv") if p.stem.lower() == table.lower()), None)
        if folder
        else None
    )
    if path is None:
        return [], iter(())
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    header = next(reader, [])
    return header, (row for row in reader if row)


def _insert(
    cursor: Any,
    table: str,
    types: dict[str, str],
    source: tuple[list[str], Iterator[Sequence[Any]]],
    result: LoadResult,
) -> int:
    header, rows = source
    if not header:
        return 0
    lowered = {column.lower(): column for column in types}
    unknown = [column for column in header if column.lower() not in lowered]
    if unknown:
        raise StudioError(
            f"table {table}: the data has columns {', '.join(unknown)} that the DDL lacks; "
            "make the CSV header match the CREATE TABLE statement"
        )
    columns = [lowered[column.lower()] for column in header]
    typed = [types[column] not in TEXT_TYPES for column in columns]
    names = f"{_quote(table)} ({', '.join(_quote(c) for c in columns)})".replace(
        "%", "%%"
    )  # pymysql formats %
    statement = f"INSERT INTO {names} VALUES ({', '.join(['%s'] * len(columns))})"
    count, batch = 0, []
    for number, row in enumerate(rows, start=1):
        batch.append(
            [
                None if is_typed and value in NULL_WORDS else value
                for value, is_typed in zip(row, typed, strict=False)
            ]
        )
        if len(batch) == BATCH_ROWS:
            count += _flush(cursor, statement, batch, table, number, columns, result)
    return count + _flush(cursor, statement, batch, table, count + len(batch), columns, result)


def _flush(
    cursor: Any,
    statement: str,
    batch: list[list[Any]],
    table: str,
    last_row: int,
    columns: list[str],
    result: LoadResult,
) -> int:
    """Insert `batch`; a value longer than its VARCHAR widens the column (data is never cut), then
    retries."""
    import pymysql

    if not batch:
        return 0
    while True:
        try:
            cursor.executemany(statement, batch)
            break
        except pymysql.MySQLError as error:
            match = re.search(r"for column '([^']+)'", str(error))
            if error.args[0] != DATA_TOO_LONG or not match or match.group(1) not in columns:
                first = last_row - len(batch) + 1
                raise StudioError(
                    f"table {table}: MySQL refused rows {first}-{last_row}: {error}"
                ) from None
            _widen_column(
                cursor, table, match.group(1), columns.index(match.group(1)), batch, result
            )
    size = len(batch)
    batch.clear()
    return size


def _widen_column(
    cursor: Any, table: str, column: str, position: int, batch: list[list[Any]], result: LoadResult
) -> None:
    cursor.execute(
        "SELECT COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
        (table, column),
    )
    old_type, nullable = cursor.fetchone()
    longest = max(len(str(row[position])) for row in batch if row[position] is not None)
    new_type = f"VARCHAR({longest})" if longest <= MAX_VARCHAR else "MEDIUMTEXT"
    if old_type.lower().startswith("varchar(") and int(old_type[8:-1]) >= longest:
        new_type = "MEDIUMTEXT"  # the limit is in bytes, not characters
    not_null = " NOT NULL" if nullable == "NO" else ""
    cursor.execute(f"ALTER TABLE {_quote(table)} MODIFY {_quote(column)} {new_type}{not_null}")
    result.widened_columns.append(f"{table}.{column}: {old_type} -> {new_type}")


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
