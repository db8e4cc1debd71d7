"""Bounded SQL parsing: every sqlglot parse of SQL text the studio did not write goes here.

Text over `MAX_SQL_CHARS`, parentheses nested deeper than `MAX_NESTING`, and anything that
makes sqlglot fail in another way (a RecursionError on a deep tree, an internal error) come
back as one `ParseError` instead of an exception the caller never planned for.
"""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token

logging.getLogger("sqlglot").setLevel(logging.ERROR)

MAX_SQL_CHARS = 65_536
MAX_NESTING = 24


class TooComplex(ParseError):
    """SQL the studio will not parse: too long, nested too deep, or beyond the parser."""


def complexity_error(sql: str) -> str | None:
    """Why `sql` is too long or nested too deep to parse (parentheses counted everywhere)."""
    if len(sql) > MAX_SQL_CHARS:
        return f"too complex: the SQL is {len(sql):,} characters, the limit is {MAX_SQL_CHARS:,}"
    depth = deepest = 0
    for char in sql:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    if deepest > MAX_NESTING:
        return f"too complex: parentheses nest {deepest} deep, the limit is {MAX_NESTING}"
    return None


def tokenize(sql: str, dialect: str) -> list[Token]:
    """sqlglot's tokens of bounded SQL; TooComplex or TokenError otherwise."""
    problem = complexity_error(sql)
    if problem:
        raise TooComplex(problem)
    try:
        return sqlglot.tokenize(sql, read=dialect)
    except TokenError:
        raise
    except (RecursionError, MemoryError) as error:
        raise TooComplex(f"too complex to tokenize ({type(error).__name__})") from error
    except Exception as error:  # any tokenizer failure is a refusal, not a crash
        raise TokenError(f"cannot tokenize SQL: {type(error).__name__}: {error}") from error


def parse_statements(sql: str, dialect: str) -> list[exp.Expression]:
    """The statements of bounded SQL; TooComplex, ParseError or TokenError otherwise."""
    problem = complexity_error(sql)
    if problem:
        raise TooComplex(problem)
    try:
        return [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError):
        raise
    except (RecursionError, MemoryError) as error:
        raise TooComplex(f"too complex to parse ({type(error).__name__})") from error
    except Exception as error:  # any parser failure is a refusal, not a crash
        raise ParseError(f"cannot parse SQL: {type(error).__name__}: {error}") from error


def parse_one(sql: str, dialect: str) -> exp.Expression:
    """Exactly one statement, or a ParseError/TokenError."""
    statements = parse_statements(sql, dialect)
    if len(statements) != 1:
        raise ParseError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]
