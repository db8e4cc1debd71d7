"""Fixtures for the SQL layer: a scratch SQLite copy and SpiderMan databases in MariaDB."""

from __future__ import annotations

import csv
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

# Local admin connections need no TLS; without ssl_disabled pymysql loads the system's CA
# certificates for every connection (about 30 ms), paid around every statement tried.
MYSQL_HOST = {
    "host": "127.0.0.1",
    "port": 3306,
    "user": "root",
    "password": "",
    "ssl_disabled": True,
}


def mysql_admin() -> pymysql.Connection:
    """A root connection with no default database, autocommit on."""
    return pymysql.connect(**MYSQL_HOST, autocommit=True, charset="utf8mb4")


def load_spiderman_mysql(mysql_dir: Path, source_db: str, target_db: str) -> None:
    """Create `target_db` from SpiderMan's `mysql/<source_db>/schema.sql` and data CSVs."""
    schema = (mysql_dir / source_db / "schema.sql").read_text(encoding="utf-8")
    schema = schema.replace(f"`{source_db}`.", f"`{target_db}`.")
    connection = mysql_admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{target_db}` CHARACTER SET utf8mb4")
            cursor.execute(f"USE `{target_db}`")
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            for statement in schema.split(";"):
                if "CREATE TABLE" in statement:
                    cursor.execute(statement)
            for data_file in sorted((mysql_dir / source_db / "data").glob("*.csv")):
                with data_file.open(newline="", encoding="utf-8") as handle:
                    header, *rows = list(csv.reader(handle))
                if rows:
                    names = ", ".join(f"`{name}`" for name in header)
                    marks = ", ".join(["%s"] * len(header))
                    cursor.executemany(
                        f"INSERT INTO `{data_file.stem}` ({names}) VALUES ({marks})", rows
                    )
    finally:
        connection.close()


def drop_database(name: str) -> None:
    connection = mysql_admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()


@pytest.fixture(scope="session")
def concert_singer_mysql(mysql_server_url: str, spiderman_mysql_dir: Path) -> Iterator[str]:
    """SpiderMan's concert_singer loaded into a fresh MariaDB database; yields its URL."""
    name = f"studio_t_sql_{uuid.uuid4().hex[:10]}"
    load_spiderman_mysql(spiderman_mysql_dir, "concert_singer", name)
    yield f"mysql://root@127.0.0.1:3306/{name}"
    drop_database(name)


@pytest.fixture(scope="session")
def concert_singer_sqlite(spiderman_sqlite_dir: Path) -> Path:
    return spiderman_sqlite_dir / "concert_singer.sqlite"


@pytest.fixture
def scratch_sqlite(concert_singer_sqlite: Path, tmp_path: Path) -> Path:
    """A private copy of concert_singer.sqlite in its own folder (safe to attack)."""
    folder = tmp_path / "db"
    folder.mkdir()
    return Path(shutil.copy(concert_singer_sqlite, folder / "concert_singer.sqlite"))


@pytest.fixture(scope="session")
def spiderman_test_queries(spiderman_dir: Path) -> list[dict[str, str]]:
    """The slice's SpiderMan test rows: database, question, sql (MySQL dialect)."""
    with (spiderman_dir / "test_queries.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def mysql_fingerprint(database: str) -> tuple:
    """Every table with its checksum and row count, plus the server's database list."""
    connection = mysql_admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME",
                (database,),
            )
            tables = cursor.fetchall()
            sums = []
            for name, _kind in tables:
                cursor.execute(f"CHECKSUM TABLE `{database}`.`{name}` EXTENDED")
                sums.append(cursor.fetchone())
                cursor.execute(f"SELECT COUNT(*) FROM `{database}`.`{name}`")
                sums.append(cursor.fetchone())
            cursor.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "ORDER BY TABLE_NAME, ORDINAL_POSITION",
                (database,),
            )
            columns = cursor.fetchall()
            cursor.execute("SHOW DATABASES")
            databases = cursor.fetchall()
            cursor.execute("SELECT @@GLOBAL.max_connections")
            settings = cursor.fetchall()
    finally:
        connection.close()
    return tables, sums, columns, databases, settings


@pytest.fixture(name="mysql_fingerprint")
def mysql_fingerprint_fixture():
    """`mysql_fingerprint(database)`: a value that changes when anything in it changes."""
    return mysql_fingerprint


@pytest.fixture
def mysql_processes():
    """`mysql_processes(url)`: queries still running on the server in that URL's database."""

    def running(url: str) -> list[tuple]:
        database = url.rsplit("/", 1)[1]
        connection = mysql_admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT ID, INFO FROM information_schema.PROCESSLIST "
                    "WHERE DB = %s AND COMMAND = 'Query' AND ID != CONNECTION_ID()",
                    (database,),
                )
                return list(cursor.fetchall())
        finally:
            connection.close()

    return running
