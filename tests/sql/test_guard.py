"""Read-only by construction: every write attempt is refused and the database is unchanged."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from studio.sql.execute import execute_sql

SHARED_ATTACKS = [
    "CREATE TABLE evil (a INT)",
    "DROP TABLE singer",
    "ALTER TABLE singer ADD COLUMN evil INT",
    "ALTER TABLE singer RENAME TO evil",
    "INSERT INTO singer (Singer_ID, Name) VALUES (99, 'evil')",
    "UPDATE singer SET Name = 'evil'",
    "DELETE FROM singer",
    "REPLACE INTO singer (Singer_ID, Name) VALUES (1, 'evil')",
    "SELECT 1; DROP TABLE singer",
    "SELECT 1; DELETE FROM singer;",
    "SELECT * FROM singer;\nUPDATE singer SET Age = 0",
    "/* just a comment */ DELETE FROM singer",
    "-- SELECT\nDELETE FROM singer",
    "SELECT 1 /* ; */; DROP TABLE singer -- ",
    (
        "WITH doomed AS (SELECT Singer_ID FROM singer) "
        "DELETE FROM singer WHERE Singer_ID IN (SELECT Singer_ID FROM doomed)"
    ),
    "WITH x AS (SELECT 1) UPDATE singer SET Name = 'evil'",
    "CREATE VIEW evil AS SELECT * FROM singer",
    "CREATE INDEX evil ON singer (Name)",
    "BEGIN; DELETE FROM singer; COMMIT",
]
SQLITE_ATTACKS = [
    "PRAGMA user_version = 7",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA writable_schema = ON",
    "ATTACH DATABASE '{dir}/evil.sqlite' AS evil",
    "ATTACH '{dir}/evil.sqlite' AS evil; CREATE TABLE evil.t (a)",
    "VACUUM INTO '{dir}/copy.sqlite'",
    "VACUUM",
    "DETACH DATABASE main",
    "SELECT load_extension('{dir}/evil.so')",
    "CREATE TEMP TABLE evil AS SELECT * FROM singer",
    "INSERT OR REPLACE INTO singer (Singer_ID, Name) VALUES (1, 'evil')",
]
MYSQL_ATTACKS = [
    "SELECT 1 /*! ; DROP TABLE singer */",
    "SELECT 1 /*!50000 , (SELECT 1) */ FROM singer",
    "/*!DROP TABLE singer*/",
    "SELECT 1 /*M!100000 ; DELETE FROM singer */",
    "SELECT * FROM singer INTO OUTFILE '/tmp/{db}_out.txt'",
    "SELECT * INTO DUMPFILE '/tmp/{db}_dump.txt' FROM singer",
    "SELECT Name INTO @stolen FROM singer LIMIT 1",
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT Name FROM singer WHERE Name = LOAD_FILE('/etc/hostname')",
    "SELECT GET_LOCK('studio', 10)",
    "SELECT * FROM singer FOR UPDATE",
    "SELECT * FROM singer LOCK IN SHARE MODE",
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE singer",
    "TRUNCATE TABLE singer",
    "RENAME TABLE singer TO evil",
    "GRANT ALL ON *.* TO 'evil'@'%'",
    "SET GLOBAL max_connections = 1",
    "DO SLEEP(0)",
    "HANDLER singer OPEN",
    "CALL mysql.evil()",
    "LOCK TABLES singer WRITE",
    "KILL 1",
    "START TRANSACTION; DELETE FROM singer",
]


def sqlite_fingerprint(path: Path) -> tuple[str, list[str]]:
    """The file's bytes and the folder's file names (ATTACH/VACUUM INTO would add files)."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(
        p.name for p in path.parent.iterdir()
    )


@pytest.mark.parametrize("attack", SHARED_ATTACKS + SQLITE_ATTACKS)
def test_sqlite_refuses_and_database_is_unchanged(scratch_sqlite: Path, attack: str) -> None:
    before = sqlite_fingerprint(scratch_sqlite)
    result = execute_sql(scratch_sqlite, attack.format(dir=scratch_sqlite.parent), timeout_s=5)
    assert not result.ok
    assert result.error_kind == "refused", result.error
    assert sqlite_fingerprint(scratch_sqlite) == before
    assert execute_sql(scratch_sqlite, "SELECT COUNT(*) FROM singer").rows == [(6,)]


def test_sqlite_authorizer_backs_up_the_statement_check(scratch_sqlite: Path) -> None:
    """The engine-level guard alone: the authorizer refuses what the statement check would."""
    from studio.sql.connect import open_sqlite_readonly

    connection = open_sqlite_readonly(scratch_sqlite)
    before = sqlite_fingerprint(scratch_sqlite)
    for attack in [
        "DELETE FROM singer",
        "PRAGMA user_version = 7",
        f"ATTACH '{scratch_sqlite.parent}/x.db' AS x",
        f"VACUUM INTO '{scratch_sqlite.parent}/copy.db'",
        "CREATE TEMP TABLE t (a)",
    ]:
        with pytest.raises(sqlite3.DatabaseError, match="not authorized|authorization denied"):
            connection.execute(attack)
    assert sqlite_fingerprint(scratch_sqlite) == before
    assert connection.execute("PRAGMA table_info(singer)").fetchall()  # schema pragmas still read


@pytest.mark.parametrize("attack", SHARED_ATTACKS + MYSQL_ATTACKS)
def test_mysql_refuses_and_database_is_unchanged(
    concert_singer_mysql: str, mysql_fingerprint, attack: str
) -> None:
    database = concert_singer_mysql.rsplit("/", 1)[1]
    before = mysql_fingerprint(database)
    result = execute_sql(concert_singer_mysql, attack.format(db=database), timeout_s=5)
    assert not result.ok
    assert result.error_kind == "refused", result.error
    assert mysql_fingerprint(database) == before
    assert not any(Path("/tmp").glob(f"{database}_*"))  # no OUTFILE / DUMPFILE written
    assert execute_sql(concert_singer_mysql, "SELECT COUNT(*) FROM singer").rows == [(6,)]


def test_mysql_read_only_transaction_backs_up_the_statement_check(
    concert_singer_mysql: str, mysql_fingerprint
) -> None:
    """The engine-level guard alone: inside the read-only transaction DML fails on the server."""
    from studio.sql.connect import open_mysql, parse_database

    database = concert_singer_mysql.rsplit("/", 1)[1]
    before = mysql_fingerprint(database)
    connection = open_mysql(parse_database(concert_singer_mysql))
    with connection.cursor() as cursor:
        cursor.execute("START TRANSACTION READ ONLY")
        with pytest.raises(Exception, match="READ ONLY"):
            cursor.execute("DELETE FROM singer")
        cursor.execute("ROLLBACK")
    connection.close()
    assert mysql_fingerprint(database) == before
