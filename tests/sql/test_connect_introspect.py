"""Database references and schema introspection on real SpiderMan SQLite files and MariaDB."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.sql.connect import open_sqlite_readonly, parse_database
from studio.sql.introspect import introspect


def test_parse_sqlite_path(concert_singer_sqlite: Path) -> None:
    ref = parse_database(str(concert_singer_sqlite))
    assert (ref.dialect, ref.name, ref.path) == (
        "sqlite",
        "concert_singer",
        concert_singer_sqlite.resolve(),
    )
    assert parse_database(ref) is ref


def test_parse_mysql_url_with_escaped_password() -> None:
    ref = parse_database("mysql://alice:p%40ss@db.example:3307/bird_dev")
    assert (ref.dialect, ref.name, ref.host, ref.port) == ("mysql", "bird_dev", "db.example", 3307)
    assert (ref.user, ref.password, ref.database) == ("alice", "p@ss", "bird_dev")
    assert "p@ss" not in str(ref)
    assert parse_database("mysql://root@localhost/x").port == 3306


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("/nonexistent/db.sqlite", "no such file"),
        ("mysql://root@127.0.0.1:3306/", "names no database"),
        ("postgres://u@h/db", "unsupported scheme"),
        ("mysql://root@127.0.0.1:notaport/db", "bad port"),
    ],
)
def test_parse_errors_name_the_fix(ref: str, fragment: str) -> None:
    with pytest.raises(StudioError, match=fragment):
        parse_database(ref)


def test_non_sqlite_file_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("hello, not a database")
    with pytest.raises(StudioError, match="not a SQLite database"):
        parse_database(bogus)


def test_sqlite_connection_is_read_only(scratch_sqlite: Path) -> None:
    connection = open_sqlite_readonly(scratch_sqlite)
    with pytest.raises(sqlite3.DatabaseError):
        connection.execute("DELETE FROM singer")
    connection.set_authorizer(None)  # even without the authorizer, mode=ro refuses writes
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("DELETE FROM singer")
    assert connection.execute("SELECT COUNT(*) FROM singer").fetchone()[0] == 6


def _check_concert_singer(schema, dialect: str) -> None:
    assert schema.dialect == dialect
    assert {t.name for t in schema.tables} == {"stadium", "singer", "concert", "singer_in_concert"}
    stadium = schema.table("stadium")
    assert [c.name for c in stadium.columns] == [
        "Stadium_ID",
        "Location",
        "Name",
        "Capacity",
        "Highest",
        "Lowest",
        "Average",
    ]
    assert stadium.column("stadium_id").primary_key and not stadium.column("Stadium_ID").nullable
    assert stadium.column("Location").nullable and not stadium.column("Location").primary_key
    assert stadium.column("Location").samples == ["Raith Rovers", "Ayr United", "East Fife"]
    link = schema.table("singer_in_concert")
    assert [c.name for c in link.columns if c.primary_key] == ["concert_ID", "Singer_ID"]
    assert sorted((fk.columns, fk.ref_table, fk.ref_columns) for fk in link.foreign_keys) == [
        (["Singer_ID"], "singer", ["Singer_ID"]),
        (["concert_ID"], "concert", ["concert_ID"]),
    ]
    concert = schema.table("concert")
    assert [(fk.columns, fk.ref_table) for fk in concert.foreign_keys] == [
        (["Stadium_ID"], "stadium")
    ]


def test_introspect_sqlite(concert_singer_sqlite: Path) -> None:
    schema = introspect(concert_singer_sqlite)
    _check_concert_singer(schema, "sqlite")
    assert schema.database == "concert_singer"
    assert [t.name for t in schema.tables] == ["stadium", "singer", "concert", "singer_in_concert"]
    assert schema.table("singer").column("Is_male").type == "CHAR(1)"
    assert introspect(concert_singer_sqlite).to_dict() == schema.to_dict()  # deterministic


def test_introspect_sample_count(concert_singer_sqlite: Path) -> None:
    schema = introspect(concert_singer_sqlite, sample_values=1)
    assert all(len(c.samples) == 1 for t in schema.tables for c in t.columns)
    none = introspect(concert_singer_sqlite, sample_values=0)
    assert all(c.samples == [] for t in none.tables for c in t.columns)


def test_introspect_sqlite_distinct_samples(spiderman_sqlite_dir: Path) -> None:
    schema = introspect(spiderman_sqlite_dir / "concert_singer.sqlite", sample_values=5)
    countries = schema.table("singer").column("Country").samples
    assert len(countries) == len(set(countries)) >= 2


def test_introspect_mysql(concert_singer_mysql: str) -> None:
    schema = introspect(concert_singer_mysql)
    _check_concert_singer(schema, "mysql")
    assert schema.table("singer").column("Is_male").type == "char(1)"
    assert schema.table("stadium").column("Capacity").samples == [10104, 11998, 2000]
    assert introspect(concert_singer_mysql).to_dict() == schema.to_dict()
