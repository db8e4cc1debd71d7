"""Schema introspection for SQLite files and MySQL/MariaDB databases.

Tables come in the database's own order for SQLite (sqlite_master) and by name for
MySQL (which keeps no creation order). Sample values are the first distinct non-null
values met in the first `SAMPLE_SCAN_ROWS` rows of each column, in storage order: cheap
on big tables and the same on every call for an unchanged database.
"""

from __future__ import annotations

import datetime
import decimal
from itertools import groupby
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.sql.connect import DatabaseRef, open_mysql, open_sqlite_readonly, parse_database
from studio.sql.schema import Column, ForeignKey, Schema, Table

SAMPLE_SCAN_ROWS = 1000
_MYSQL_BINARY_TYPES = ("blob", "binary", "varbinary", "geometry", "point", "polygon", "linestring")


def introspect(ref: str | Path | DatabaseRef, sample_values: int = 3) -> Schema:
    """Tables, columns (declared types, primary keys, nullability), foreign keys and samples."""
    database = parse_database(ref)
    if database.dialect == "sqlite":
        return _introspect_sqlite(database, sample_values)
    return _introspect_mysql(database, sample_values)


def _sample_value(value: Any) -> Any:
    """A JSON-friendly form of a sample value (dates and decimals as text)."""
    if isinstance(value, (decimal.Decimal, datetime.date, datetime.time, datetime.timedelta)):
        return str(value)
    return value


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _introspect_sqlite(database: DatabaseRef, sample_values: int) -> Schema:
    connection = open_sqlite_readonly(database.path)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        tables = [_sqlite_table(connection, name, sample_values) for name in names]
    except Exception as error:
        raise StudioError(f"cannot read the schema of {database.path}: {error}") from error
    finally:
        connection.close()
    return Schema(database=database.name, dialect="sqlite", tables=tables)


def _sqlite_table(connection, name: str, sample_values: int) -> Table:
    quoted = _sqlite_quote(name)
    info = connection.execute(f"PRAGMA table_info({quoted})").fetchall()
    columns = [
        Column(
            name=col_name,
            type=declared or "",
            primary_key=pk > 0,
            nullable=not notnull and pk == 0,
            samples=_sqlite_samples(connection, quoted, col_name, sample_values),
        )
        for _cid, col_name, declared, notnull, _default, pk in info
    ]
    primary_key = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5] > 0]
    return Table(
        name=name,
        columns=columns,
        foreign_keys=_sqlite_foreign_keys(connection, quoted, primary_key),
    )


def _sqlite_samples(connection, table: str, column: str, limit: int) -> list[Any]:
    if limit <= 0:
        return []
    col = _sqlite_quote(column)
    rows = connection.execute(
        f"SELECT DISTINCT {col} FROM (SELECT {col} FROM {table} "
        f"WHERE {col} IS NOT NULL AND typeof({col}) != 'blob' LIMIT ?) LIMIT ?",
        (SAMPLE_SCAN_ROWS, limit),
    ).fetchall()
    return [row[0] for row in rows]


def _sqlite_foreign_keys(connection, table: str, own_primary_key: list[str]) -> list[ForeignKey]:
    groups: dict[int, list[tuple]] = {}
    for fk_id, seq, ref_table, from_col, to_col, *_ in connection.execute(
        f"PRAGMA foreign_key_list({table})"
    ):
        groups.setdefault(fk_id, []).append((seq, ref_table, from_col, to_col))
    foreign_keys = []
    for fk_id in sorted(groups):
        parts = sorted(groups[fk_id])
        ref_table = parts[0][1]
        ref_columns = [p[3] for p in parts]
        if any(col is None for col in ref_columns):  # REFERENCES parent without columns
            ref_columns = _sqlite_primary_key(connection, ref_table)
        foreign_keys.append(ForeignKey([p[2] for p in parts], ref_table, ref_columns))
    return foreign_keys


def _sqlite_primary_key(connection, table: str) -> list[str]:
    info = connection.execute(f"PRAGMA table_info({_sqlite_quote(table)})").fetchall()
    return [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5] > 0]


def _mysql_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _introspect_mysql(database: DatabaseRef, sample_values: int) -> Schema:
    import pymysql

    connection = open_mysql(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "ORDER BY TABLE_NAME, ORDINAL_POSITION",
                (database.database,),
            )
            column_rows = cursor.fetchall()
            cursor.execute(
                "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, "
                "REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                "WHERE TABLE_SCHEMA = %s AND REFERENCED_TABLE_NAME IS NOT NULL "
                "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
                (database.database,),
            )
            fk_rows = cursor.fetchall()
            tables: dict[str, Table] = {}
            for table, column, col_type, is_nullable, key in column_rows:
                samples = (
                    []
                    if col_type.lower().startswith(_MYSQL_BINARY_TYPES)
                    else _mysql_samples(cursor, table, column, sample_values)
                )
                tables.setdefault(table, Table(name=table, columns=[])).columns.append(
                    Column(
                        name=column,
                        type=col_type,
                        primary_key=key == "PRI",
                        nullable=is_nullable == "YES",
                        samples=samples,
                    )
                )
    except pymysql.MySQLError as error:
        raise StudioError(f"cannot read the schema of {database}: {error}") from error
    finally:
        connection.close()
    for (table, _constraint), parts in groupby(fk_rows, key=lambda row: (row[0], row[1])):
        parts = list(parts)
        tables[table].foreign_keys.append(
            ForeignKey(
                columns=[p[2] for p in parts],
                ref_table=parts[0][3],
                ref_columns=[p[4] for p in parts],
            )
        )
    return Schema(database=database.name, dialect="mysql", tables=list(tables.values()))


def _mysql_samples(cursor, table: str, column: str, limit: int) -> list[Any]:
    if limit <= 0:
        return []
    col = _mysql_quote(column)
    cursor.execute(
        f"SELECT DISTINCT {col} FROM (SELECT {col} FROM {_mysql_quote(table)} "
        f"WHERE {col} IS NOT NULL LIMIT %s) AS scan LIMIT %s",
        (SAMPLE_SCAN_ROWS, limit),
    )
    return [_sample_value(row[0]) for row in cursor.fetchall()]
