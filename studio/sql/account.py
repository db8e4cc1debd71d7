"""A MySQL/MariaDB session made safe to run model SQL on, and what its account may do.

At connect time the session learns the server flavour, takes the quoting rules the guard
assumes (backslash escapes on, double quotes as strings) and reads the account's grants:
an account that may write, read files (FILE) or administer the server (SUPER) gets a loud
warning naming the fix (in `notices`), or is refused when `STUDIO_SQL_READ_ONLY_ACCOUNT=require`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError
from studio.sql.connect import DatabaseRef, open_mysql

REQUIRE_ENV = "STUDIO_SQL_READ_ONLY_ACCOUNT"
# Privileges that only read; any other privilege lets the account change something.
READ_PRIVILEGES = frozenset({"SELECT", "SHOW VIEW", "USAGE", "SHOW DATABASES"})
# sql_mode flags that change how quotes and backslashes read, which the guard's tokenizer
# must agree with.
QUOTING_MODES = frozenset({"ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ANSI"})
_GRANT = re.compile(r"^GRANT (.+?) ON ", re.IGNORECASE)
# Warnings for the process that asked for the query (studio.sql.sandbox relays and shows them).
notices: list[str] = []


@dataclass
class MySQLSession:
    """One connection, its server flavour and the risky privileges of its account."""

    connection: Any
    mariadb: bool
    risky_privileges: list[str] = field(default_factory=list)

    def begin_read_only(self, timeout_s: float, max_rows: int | None) -> None:
        """Statement time limit and row cap for the next query, inside a read-only transaction."""
        limit = "DEFAULT" if max_rows is None else str(int(max_rows) + 1)
        with self.connection.cursor() as cursor:
            if self.mariadb:
                cursor.execute(
                    f"SET SESSION max_statement_time = %s, sql_select_limit = {limit}", (timeout_s,)
                )
            else:
                cursor.execute(
                    f"SET SESSION max_execution_time = %s, sql_select_limit = {limit}",
                    (int(timeout_s * 1000),),
                )
            cursor.execute("START TRANSACTION READ ONLY")


def open_session(database: DatabaseRef, read_timeout_s: float) -> MySQLSession:
    """Connect, settle the quoting rules and judge the account (warn or refuse)."""
    connection = open_mysql(database, read_timeout_s=read_timeout_s)
    try:
        session = MySQLSession(
            connection,
            mariadb="mariadb" in connection.get_server_info().lower(),
            risky_privileges=risky_privileges(_grants(connection)),
        )
        settle_quoting(connection)
    except BaseException:
        connection.close()
        raise
    if session.risky_privileges:
        _judge_account(database, session.risky_privileges)
    return session


def _grants(connection: Any) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS FOR CURRENT_USER()")
        return [row[0] for row in cursor.fetchall()]


def risky_privileges(grants: list[str]) -> list[str]:
    """The privileges in `SHOW GRANTS` lines that are more than reading, in order, once each."""
    found: list[str] = []
    for line in grants:
        match = _GRANT.match(line.strip())
        if not match or line.upper().startswith("GRANT PROXY"):
            continue
        for privilege in match.group(1).split(","):
            name = re.sub(r"\s*\(.*\)$", "", privilege.strip()).upper()  # column grants
            if name and name not in READ_PRIVILEGES and name not in found:
                found.append(name)
    return found


def account_message(database: DatabaseRef, privileges: list[str]) -> str:
    """The warning (or refusal) for an account that holds `privileges`."""
    shown = ", ".join(privileges[:6]) + (", ..." if len(privileges) > 6 else "")
    return (
        f"the MySQL account {database.user}@{database.host} may do more than read ({shown}). "
        "The studio's guard and read-only transactions keep model SQL from writing, but the "
        "safe setup is an account that can only read: CREATE USER 'studio_ro'@'%' "
        f"IDENTIFIED BY '...'; GRANT SELECT ON `{database.database}`.* TO 'studio_ro'@'%'; "
        f"then use mysql://studio_ro:...@{database.host}:{database.port}/{database.database}. "
        f"Set {REQUIRE_ENV}=require to refuse such accounts."
    )


def _judge_account(database: DatabaseRef, privileges: list[str]) -> None:
    message = account_message(database, privileges)
    if os.environ.get(REQUIRE_ENV, "").strip().lower() == "require":
        raise StudioError(f"refused: {message}")
    notices.append(message)


def settle_quoting(connection: Any) -> None:
    """Drop the sql_mode flags under which quotes or backslashes would read differently."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode")
        modes = [m for m in (cursor.fetchone()[0] or "").split(",") if m]
        kept = [m for m in modes if m.upper() not in QUOTING_MODES]
        if kept != modes:
            cursor.execute("SET SESSION sql_mode = %s", (",".join(kept),))
