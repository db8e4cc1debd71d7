"""The read-only guard: what SQL may run, and the SQLite authorizer that enforces it.

Two independent layers. The statement check (sqlglot) admits exactly one query
(SELECT / set operation / WITH ... SELECT) and refuses everything else, including
writes hidden in MySQL executable comments (`/*! ... */`) and file/lock functions.
The engines then enforce read-only on their own: SQLite through a `mode=ro`
connection plus `install_sqlite_authorizer`, MySQL through a read-only transaction.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Functions that touch files, locks, sequences or replication state.
DENIED_FUNCTIONS = frozenset(
    {
        "LOAD_FILE",
        "LOAD_EXTENSION",
        "READFILE",
        "WRITEFILE",
        "EDIT",
        "FTS3_TOKENIZER",
        "GET_LOCK",
        "RELEASE_LOCK",
        "RELEASE_ALL_LOCKS",
        "IS_FREE_LOCK",
        "IS_USED_LOCK",
        "MASTER_POS_WAIT",
        "SOURCE_POS_WAIT",
        "MASTER_GTID_WAIT",
        "WAIT_FOR_EXECUTED_GTID_SET",
        "SYS_EXEC",
        "SYS_EVAL",
        "NEXTVAL",
        "SETVAL",
    }
)
# Nodes that never belong in a read-only query.
DENIED_NODES: tuple[type[exp.Expression], ...] = (
    exp.DML,
    exp.DDL,
    exp.Command,
    exp.Into,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Set,
    exp.Use,
    exp.LoadData,
    exp.Copy,
    exp.Merge,
    exp.Kill,
    exp.Lock,
    exp.NextValueFor,
)
# Words that, outside strings and quoted names, mark SQL sqlglot cannot parse as unsafe.
DENIED_WORDS = (
    frozenset(
        {
            "INSERT",
            "UPDATE",
            "DELETE",
            "REPLACE",
            "UPSERT",
            "MERGE",
            "CREATE",
            "DROP",
            "ALTER",
            "TRUNCATE",
            "RENAME",
            "GRANT",
            "REVOKE",
            "ATTACH",
            "DETACH",
            "PRAGMA",
            "VACUUM",
            "REINDEX",
            "ANALYZE",
            "OPTIMIZE",
            "REPAIR",
            "LOAD",
            "HANDLER",
            "CALL",
            "DO",
            "SET",
            "LOCK",
            "UNLOCK",
            "KILL",
            "SHUTDOWN",
            "FLUSH",
            "INSTALL",
            "UNINSTALL",
            "BEGIN",
            "START",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT",
            "RELEASE",
            "INTO",
            "OUTFILE",
            "DUMPFILE",
            "PREPARE",
            "EXECUTE",
            "DEALLOCATE",
            "USE",
            "RESET",
            "PURGE",
            "CHANGE",
            "XA",
            "BINLOG",
            "CACHE",
            "SIGNAL",
            "RESIGNAL",
            "HELP",
            "SHOW",
            "DESCRIBE",
            "EXPLAIN",
        }
    )
    | DENIED_FUNCTIONS
)
_EXECUTABLE_COMMENT = re.compile(r"/\*M?!")
READ_STARTS = frozenset({"SELECT", "WITH", "(", "VALUES"})
_LITERAL_TOKENS = {
    TokenType.STRING,
    TokenType.NATIONAL_STRING,
    TokenType.IDENTIFIER,
    TokenType.NUMBER,
}

# SQLite authorizer: everything not listed here is denied.
_SQLITE_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}
_SQLITE_READ_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "foreign_key_list", "index_list", "index_info", "index_xinfo"}
)


@dataclass(frozen=True)
class GuardRejection:
    """Why a statement is not run: `kind` is "refused" (not a read-only query) or "syntax"."""

    kind: str
    message: str


@lru_cache(maxsize=4096)
def check_statement(sql: str, dialect: str) -> GuardRejection | None:
    """None when `sql` is exactly one read-only query in `dialect`, else why it is rejected."""
    if not sql.strip():
        return GuardRejection("syntax", "empty SQL statement")
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except TokenError as error:
        return GuardRejection("syntax", f"cannot tokenize SQL: {error}")
    if dialect == "mysql" and _has_executable_comment(sql, tokens):
        return GuardRejection("refused", "MySQL executable comments (/*! ... */) are not allowed")
    if not tokens:
        return GuardRejection("syntax", "SQL holds only comments")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as error:
        return _check_unparsed(tokens, str(error).splitlines()[0])
    if len(statements) != 1:
        return GuardRejection("refused", f"only one statement may run, got {len(statements)}")
    return _check_tree(statements[0])


def _has_executable_comment(sql: str, tokens: list) -> bool:
    """`/*! ... */` and `/*M! ... */` run as SQL on MySQL/MariaDB."""
    if not tokens:  # the comment has no token to hang on
        return bool(_EXECUTABLE_COMMENT.search(sql))
    return any(c.startswith(("!", "M!")) for token in tokens for c in token.comments)


def _check_tree(tree: exp.Expression) -> GuardRejection | None:
    if not isinstance(tree, exp.Query):
        return GuardRejection("refused", f"only queries may run, not {tree.key.upper()} statements")
    for node in tree.walk():
        if isinstance(node, DENIED_NODES):
            return GuardRejection(
                "refused", f"{node.key.upper()} is not allowed in a read-only query"
            )
        if isinstance(node, exp.Select) and node.args.get("locks"):
            return GuardRejection(
                "refused", "locking reads (FOR UPDATE / FOR SHARE) are not allowed"
            )
        if isinstance(node, exp.Func) and _function_name(node) in DENIED_FUNCTIONS:
            return GuardRejection("refused", f"function {_function_name(node)} is not allowed")
    return None


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).upper()


def _check_unparsed(tokens: list, parse_error: str) -> GuardRejection | None:
    """SQL sqlglot cannot parse: the engine may judge it only when it is plainly a read.

    It must start like a query, hold one statement and no write-like word outside
    strings and quoted names; otherwise it is refused (write-like) or reported as
    sqlglot's syntax error (anything else), without reaching the engine.
    """
    semicolons = [i for i, token in enumerate(tokens) if token.token_type == TokenType.SEMICOLON]
    if semicolons and semicolons != [len(tokens) - 1]:
        return GuardRejection("refused", "only one statement may run")
    for index, token in enumerate(tokens):
        word = token.text.upper()
        if token.token_type in _LITERAL_TOKENS or word not in DENIED_WORDS:
            continue
        is_call = index + 1 < len(tokens) and tokens[index + 1].token_type == TokenType.L_PAREN
        if word == "REPLACE" and is_call:
            continue
        return GuardRejection("refused", f"{word} is not allowed in a read-only query")
    if tokens[0].text.upper() not in READ_STARTS:
        return GuardRejection("syntax", parse_error)
    return None


def install_sqlite_authorizer(connection: sqlite3.Connection) -> None:
    """Deny every SQLite action except reads, selects, harmless functions and schema pragmas."""
    connection.set_authorizer(_sqlite_authorizer)


def _sqlite_authorizer(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
) -> int:
    if action in _SQLITE_ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return (
            sqlite3.SQLITE_DENY if (arg2 or "").upper() in DENIED_FUNCTIONS else sqlite3.SQLITE_OK
        )
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _SQLITE_READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY
