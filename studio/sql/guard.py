"""The read-only guard: what SQL may run, and the SQLite authorizer that enforces it.

Two independent layers. The statement check (sqlglot) admits exactly one query
(SELECT / set operation / WITH ... SELECT) and refuses everything else, including
writes hidden in MySQL executable comments (`/*! ... */`) and file/lock functions.
The engines then enforce read-only on their own: SQLite through a `mode=ro`
connection plus `install_sqlite_authorizer`, MySQL through a read-only transaction.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from studio.sql.parse import TooComplex, parse_statements, tokenize

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
# MySQL runs `/*! ... */` and `/*M! ... */` as SQL and reads `/*+ ... */` as optimizer hints:
# refused wherever they stand in the text, strings included (fail closed).
_EXECUTABLE_COMMENT = re.compile(r"/\*(M?!|\+)", re.IGNORECASE)
_ASCII_SPACE = frozenset(" \t\n\r\f\v")
_CACHED_SQL_CHARS = 4096  # longer texts are checked each time instead of kept in the cache
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


def check_statement(sql: str, dialect: str, database: str | None = None) -> GuardRejection | None:
    """None when `sql` is exactly one read-only query in `dialect`, else why it is rejected.

    With `database` (the MySQL database connected to), tables and columns may name no other
    database; SQLite's may name only `main` and `temp`. Never raises: SQL too long, too deep
    or beyond the parser is refused as too complex.
    """
    if len(sql) <= _CACHED_SQL_CHARS:
        return _check_cached(sql, dialect, database)
    return _check(sql, dialect, database)


@lru_cache(maxsize=4096)
def _check_cached(sql: str, dialect: str, database: str | None) -> GuardRejection | None:
    return _check(sql, dialect, database)


def _check(sql: str, dialect: str, database: str | None) -> GuardRejection | None:
    if not sql.strip():
        return GuardRejection("syntax", "empty SQL statement")
    if _EXECUTABLE_COMMENT.search(sql):
        return GuardRejection(
            "refused",
            "MySQL executable comments and hints (/*! */, /*M! */, /*+ */) are not allowed",
        )
    if "\x00" in sql:
        return GuardRejection("refused", "SQL holds a NUL character")
    try:
        tokens = tokenize(sql, dialect)
    except TooComplex as error:
        return GuardRejection("refused", str(error))
    except TokenError as error:
        return GuardRejection("syntax", f"cannot tokenize SQL: {error}")
    if not tokens:
        return GuardRejection("syntax", "SQL holds only comments")
    unreadable = _unreadable_gap(sql, tokens, dialect)
    if unreadable is not None:
        return GuardRejection("refused", unreadable)
    try:
        statements = parse_statements(sql, dialect)
    except TooComplex as error:
        return GuardRejection("refused", str(error))
    except (ParseError, TokenError) as error:
        return _check_unparsed(tokens, str(error).splitlines()[0])
    if len(statements) != 1:
        return GuardRejection("refused", f"only one statement may run, got {len(statements)}")
    own = {"main", "temp"} if dialect == "sqlite" else {database.lower()} if database else None
    try:
        return _check_tree(statements[0], own)
    except RecursionError:
        return GuardRejection("refused", "too complex: the query tree is too deep to check")


def _unreadable_gap(sql: str, tokens: list, dialect: str) -> str | None:
    """Why the text between sqlglot's tokens is not plainly spaces and comments to the engine.

    sqlglot skips what it reads as whitespace or comments; the engine must read those
    stretches the same way, or text the guard never saw would run (MySQL reads `--` as a
    comment only before an ASCII space or control character, and no engine reads U+00A0
    or U+3000 as a space). Every skipped stretch is read again with the engine's rules.
    """
    starts = [token.start for token in tokens] + [len(sql)]
    ends = [-1] + [token.end for token in tokens]
    for previous_end, next_start in zip(ends, starts, strict=True):
        problem = _gap_problem(sql[previous_end + 1 : next_start], dialect)
        if problem:
            return f"{problem} after offset {previous_end + 1}; use plain ASCII spaces and comments"
    return None


def _gap_problem(gap: str, dialect: str) -> str | None:
    index = 0
    while index < len(gap):
        char = gap[index]
        if char in _ASCII_SPACE:
            index += 1
        elif gap.startswith("--", index):
            after = gap[index + 2 : index + 3]
            if dialect == "mysql" and not (after and (after in _ASCII_SPACE or ord(after) < 32)):
                return f"'--' followed by {_describe(after)} is not a comment to MySQL"
            index = _line_end(gap, index)
        elif char == "#" and dialect == "mysql":
            index = _line_end(gap, index)
        elif gap.startswith("/*", index):
            close = gap.find("*/", index + 2)
            if close < 0:
                return "an unterminated /* comment"
            index = close + 2
        else:
            return f"{_describe(char)} between tokens"
    return None


def _line_end(text: str, index: int) -> int:
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _describe(char: str) -> str:
    if not char:
        return "the end of the text"
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'a control character')})"


def _check_tree(tree: exp.Expression, own_databases: set[str] | None) -> GuardRejection | None:
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
        if own_databases is not None and isinstance(node, (exp.Table, exp.Column)):
            named = node.args.get("catalog") or node.args.get("db")
            if named is not None and named.name.lower() not in own_databases:
                return GuardRejection(
                    "refused",
                    f"{node.sql()} names database {named.name!r}; only this "
                    "database's tables may be read",
                )
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
