"""Every query is bounded: result and cell bytes, rows capped alike on both engines, a step
the engine cannot interrupt stopped with its executor, and the MySQL account judged. A job's
cancel signal leaves its executors answering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from studio.errors import StudioError
from studio.sql.account import risky_privileges, settle_quoting
from studio.sql.execute import execute_sql
from studio.sql.sandbox import GRACE_S

REPO_ROOT = Path(__file__).resolve().parents[2]
KILL_SLACK_S = 1.0  # killing and reaping a stopped executor
CROSS_JOIN = "FROM singer a, singer b, singer c, singer d, singer e"


def studio_sql(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", "sql", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("concert_singer_sqlite"))
    return request.getfixturevalue("concert_singer_mysql")


def test_row_cap_holds_over_the_query_own_limit(database: str) -> None:
    for sql in (f"SELECT a.Name {CROSS_JOIN}", f"SELECT a.Name {CROSS_JOIN} LIMIT 100000"):
        result = execute_sql(database, sql, max_rows=10, timeout_s=10)
        assert result.ok and result.truncated and len(result.rows) == 10, result.error
    assert execute_sql(database, "SELECT COUNT(*) FROM singer").rows == [(6,)]


def test_result_bound_refuses_a_large_result(database: str) -> None:
    text = "printf('%.*c', 200000, 'x')" if database.endswith(".sqlite") else "REPEAT('x', 200000)"
    done = studio_sql(
        "run",
        "--db",
        database,
        "--sql",
        f"SELECT {text} {CROSS_JOIN}",
        "--max-rows",
        "100000",
        STUDIO_SQL_RESULT_MB="1",
    )
    result = json.loads(done.stdout)
    assert done.returncode == 1 and result["error_kind"] == "too_large", done.stdout
    assert "1 MiB" in result["error"] and "Traceback" not in done.stderr


def test_cell_bound_refuses_a_large_cell(database: str) -> None:
    text = "zeroblob(3000000)" if database.endswith(".sqlite") else "REPEAT('x', 3000000)"
    done = studio_sql("run", "--db", database, "--sql", f"SELECT {text}", STUDIO_SQL_CELL_MB="2")
    result = json.loads(done.stdout)
    assert result["error_kind"] == "too_large", done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT randomblob(1000000000)",
        "SELECT zeroblob(1000000000)",
        "SELECT length(printf('%.*c', 900000000, 'x'))",
    ],
)
def test_sqlite_single_row_bombs_are_bounded(concert_singer_sqlite: Path, sql: str) -> None:
    result = execute_sql(concert_singer_sqlite, sql, timeout_s=5)
    assert result.error_kind in ("too_large", "timeout") or result.rows == [(None,)], result
    assert result.elapsed_s <= 5 + GRACE_S + KILL_SLACK_S


def test_mysql_wide_rows_stop_at_the_result_bound(concert_singer_mysql: str) -> None:
    result = execute_sql(
        concert_singer_mysql,
        "SELECT REPEAT('a', 16000000) FROM singer a, singer b, singer c",
        timeout_s=30,
    )
    assert result.error_kind == "too_large" and "MiB" in result.error, result
    assert execute_sql(concert_singer_mysql, "SELECT COUNT(*) FROM singer").rows == [(6,)]


def test_a_step_the_engine_cannot_interrupt_stops_its_executor(concert_singer_sqlite: Path) -> None:
    """SQLite checks its deadline between VM steps; aggregating megabyte blobs makes the steps
    long, so the executor itself is stopped at timeout + grace and a fresh one takes over."""
    bomb = "SELECT group_concat(hex(randomblob(1000000))) FROM singer a, singer b, singer c"
    result = execute_sql(concert_singer_sqlite, bomb, timeout_s=1.0)
    assert result.error_kind in ("timeout", "too_large"), result
    assert result.elapsed_s <= 1.0 + GRACE_S + KILL_SLACK_S
    assert execute_sql(concert_singer_sqlite, "SELECT COUNT(*) FROM singer").rows == [(6,)]


def test_executors_keep_answering_after_the_job_is_signalled_to_stop(
    concert_singer_sqlite: Path,
) -> None:
    """A cancel SIGTERMs the job's whole process group and the job finishes its step first (a
    GRPO rollout's rewards, an evaluation's scoring): its executors must not die with it."""
    job = textwrap.dedent(
        """
        import signal, sys
        from studio.sql.execute import execute_sql
        execute_sql(sys.argv[1], "SELECT 1")  # an executor is up and idle
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        print("ready", flush=True)
        signal.sigwait({signal.SIGTERM})
        result = execute_sql(sys.argv[1], "SELECT COUNT(*) FROM singer")
        print(result.rows, result.error, flush=True)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", job, str(concert_singer_sqlite)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    os.killpg(process.pid, signal.SIGTERM)
    out, _ = process.communicate(timeout=120)
    assert (process.returncode, out.strip()) == (0, "[(6,)] None")


@pytest.fixture
def read_only_account(concert_singer_mysql: str) -> Iterator[str]:
    """A MariaDB account that may only SELECT in the test database; yields its URL."""
    database = concert_singer_mysql.rsplit("/", 1)[1]
    user, password = f"ro_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cursor.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'")
        yield f"mysql://{user}:{password}@127.0.0.1:3306/{database}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def test_a_privileged_account_is_warned_and_refused_on_request(
    concert_singer_mysql: str, read_only_account: str
) -> None:
    query = ("run", "--db", concert_singer_mysql, "--sql", "SELECT COUNT(*) FROM singer")
    warned = studio_sql(*query)
    assert warned.returncode == 0 and json.loads(warned.stdout)["rows"] == [[6]]
    assert warned.stderr.count("warning: the MySQL account root@127.0.0.1") == 1
    assert "GRANT SELECT ON" in warned.stderr

    refused = studio_sql(*query, STUDIO_SQL_READ_ONLY_ACCOUNT="require")
    assert refused.returncode == 2 and "refused: the MySQL account root@" in refused.stderr
    assert "Traceback" not in refused.stderr

    read_only = ("run", "--db", read_only_account, "--sql", "SELECT COUNT(*) FROM singer")
    accepted = studio_sql(*read_only, STUDIO_SQL_READ_ONLY_ACCOUNT="require")
    assert accepted.returncode == 0 and "warning" not in accepted.stderr, accepted.stderr


def test_grants_that_only_read_are_not_risky(read_only_account: str) -> None:
    from studio.sql.connect import open_mysql, parse_database

    connection = open_mysql(parse_database(read_only_account))
    with connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS FOR CURRENT_USER()")
        grants = [row[0] for row in cursor.fetchall()]
    connection.close()
    assert risky_privileges(grants) == []
    assert risky_privileges(
        ["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"]
    ) == ["ALL PRIVILEGES"]
    assert risky_privileges(["GRANT SELECT, INSERT, FILE ON *.* TO `u`@`%`"]) == ["INSERT", "FILE"]


def test_quoting_modes_the_guard_does_not_read_are_dropped(concert_singer_mysql: str) -> None:
    from studio.sql.connect import open_mysql, parse_database

    connection = open_mysql(parse_database(concert_singer_mysql))
    with connection.cursor() as cursor:
        cursor.execute(
            "SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES'"
        )
        settle_quoting(connection)
        cursor.execute("SELECT @@SESSION.sql_mode, 'a\\'b', \"x\"")
        mode, escaped, double_quoted = cursor.fetchone()
    connection.close()
    assert mode == "STRICT_ALL_TABLES" and escaped == "a'b" and double_quoted == "x"


def test_a_bad_bound_setting_names_the_fix(
    concert_singer_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_SQL_RESULT_MB", "lots")
    with pytest.raises(StudioError, match="STUDIO_SQL_RESULT_MB must be a whole number"):
        execute_sql(concert_singer_sqlite, "SELECT 1")
