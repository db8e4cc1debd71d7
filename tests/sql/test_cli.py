"""`python -m studio sql run|schema` as a user runs them: subprocesses, JSON on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def studio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_sql_run_prints_json(concert_singer_sqlite: Path) -> None:
    done = studio(
        "sql",
        "run",
        "--db",
        str(concert_singer_sqlite),
        "--sql",
        "SELECT Name, Age FROM singer ORDER BY Age DESC",
        "--max-rows",
        "2",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["columns"] == ["Name", "Age"]
    assert result["rows"] == [["Joe Sharp", 52], ["John Nizinik", 43]] and result["truncated"]


def test_sql_run_refusal_exits_2(concert_singer_sqlite: Path) -> None:
    done = studio(
        "sql", "run", "--db", str(concert_singer_sqlite), "--sql", "SELECT 1; DROP TABLE singer"
    )
    assert done.returncode == 2
    assert json.loads(done.stdout)["error_kind"] == "refused"
    assert "only a single read-only query" in done.stderr


def test_sql_run_error_exits_1_on_mysql(concert_singer_mysql: str) -> None:
    done = studio("sql", "run", "--db", concert_singer_mysql, "--sql", "SELECT nope FROM singer")
    assert done.returncode == 1
    assert json.loads(done.stdout)["error_kind"] == "unknown_column"


def test_sql_run_bad_database_exits_2(tmp_path: Path) -> None:
    done = studio("sql", "run", "--db", str(tmp_path / "missing.sqlite"), "--sql", "SELECT 1")
    assert done.returncode == 2 and "no such file" in done.stderr


def test_sql_schema(concert_singer_sqlite: Path) -> None:
    done = studio("sql", "schema", "--db", str(concert_singer_sqlite), "--samples", "1")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert [t["name"] for t in schema["tables"]] == [
        "stadium",
        "singer",
        "concert",
        "singer_in_concert",
    ]
    assert schema["tables"][0]["columns"][0] == {
        "name": "Stadium_ID",
        "type": "INT",
        "primary_key": True,
        "nullable": False,
        "samples": [1],
        "description": None,
        "value_description": None,
    }
