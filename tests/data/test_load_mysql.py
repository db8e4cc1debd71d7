"""The MySQL path on the running MariaDB with real SpiderMan databases."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest

from studio.data.importers import import_dataset
from studio.data.importers.common import ImportOptions
from studio.data.registry import load_examples
from studio.errors import StudioError
from studio.sql.connect import open_mysql, parse_database
from studio.sql.introspect import introspect
from studio.sql.load_mysql import load_into_mysql
from studio.workspace import Workspace

DB = "concert_singer"


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {t: connection.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def test_sqlite_database_loads_and_prompts_state_mysql(
    workspace: Workspace,
    spiderman_sqlite_dir: Path,
    spiderman_dir: Path,
    scratch_mysql_db: str,
    mysql_server_url: str,
    tmp_path: Path,
) -> None:
    url = mysql_server_url.rsplit("/", 1)[0] + f"/{scratch_mysql_db}"
    result = load_into_mysql(spiderman_sqlite_dir / f"{DB}.sqlite", url)
    assert result.url == url
    assert result.rows == sqlite_counts(spiderman_sqlite_dir / f"{DB}.sqlite")

    schema = introspect(url)
    assert schema.dialect == "mysql"
    assert sorted(t.name for t in schema.tables) == sorted(result.rows)
    assert schema.table("singer").column("Singer_ID").primary_key

    with open(spiderman_dir / "test_queries.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["database"] == DB][:5]
    questions = tmp_path / "questions.csv"
    with open(questions, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["database", "question", "sql"])
        writer.writeheader()
        writer.writerows([{**r, "database": scratch_mysql_db} for r in rows])
    (dataset,) = import_dataset(
        workspace,
        "csv",
        questions,
        ImportOptions(name="on_mysql", mysql_url=url, schema_style="enriched"),
    )
    assert dataset.dialect == "mysql" and dataset.databases == {scratch_mysql_db: url}
    example = load_examples(workspace, "on_mysql")[0]
    assert example.prompt.startswith(
        "Write one MySQL query that answers the question. The database is MySQL"
    )
    assert "CREATE TABLE singer (" in example.prompt and "-- e.g." in example.prompt
    connection = open_mysql(parse_database(url))
    try:
        with connection.cursor() as cursor:
            cursor.execute(example.gold_sql)
            assert cursor.fetchall()
    finally:
        connection.close()


def test_schema_sql_and_csv_folder_loads(
    spiderman_mysql_dir: Path, scratch_mysql_db: str, mysql_server_url: str
) -> None:
    folder = spiderman_mysql_dir / DB
    url = mysql_server_url.rsplit("/", 1)[0] + f"/{scratch_mysql_db}"
    result = load_into_mysql(folder, url)
    expected = {
        p.stem: sum(1 for _ in csv.reader(p.open(encoding="utf-8"))) - 1
        for p in (folder / "data").glob("*.csv")
    }
    assert result.rows == expected
    foreign_keys = [fk for t in introspect(url).tables for fk in t.foreign_keys]
    assert foreign_keys  # schema.sql's keys arrived, re-targeted at the chosen database

    with pytest.raises(StudioError, match="already exists.*pass --replace"):
        load_into_mysql(folder, url)
    assert load_into_mysql(folder, url, replace=True).rows == expected


def test_bad_source_is_refused(tmp_path: Path, mysql_server_url: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(StudioError, match="is not a SQLite database"):
        load_into_mysql(tmp_path / "notes.txt", mysql_server_url)
    with pytest.raises(StudioError, match="neither a SQLite file nor a folder with schema.sql"):
        load_into_mysql(tmp_path, mysql_server_url)
