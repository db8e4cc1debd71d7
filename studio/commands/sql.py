"""`python -m studio sql`: run one read-only query, or print a database's schema, as JSON.

Exit codes for `sql run`: 0 the query ran, 2 the statement was refused (not a single
read-only query) or the database reference is bad, 1 any other SQL error (syntax,
unknown table/column, timeout, ...); the JSON is printed in every case.
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "run read-only SQL against a SQLite file or mysql:// URL; print a schema"


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="sql_verb", metavar="ACTION", required=True)

    run = verbs.add_parser("run", help="run one read-only query and print the result as JSON")
    run.add_argument(
        "--db",
        required=True,
        metavar="PATH_OR_URL",
        help="SQLite file or mysql://user:pass@host:port/db",
    )
    run.add_argument(
        "--sql", required=True, help="the query (one SELECT / WITH ... SELECT statement)"
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds before the query is stopped (default 30)",
    )
    run.add_argument(
        "--max-rows",
        type=int,
        default=10_000,
        metavar="N",
        help="row cap; truncated=true when hit (default 10000)",
    )
    run.set_defaults(func=_run)

    schema = verbs.add_parser("schema", help="print the introspected schema as JSON")
    schema.add_argument(
        "--db",
        required=True,
        metavar="PATH_OR_URL",
        help="SQLite file or mysql://user:pass@host:port/db",
    )
    schema.add_argument(
        "--samples",
        type=int,
        default=3,
        metavar="N",
        help="distinct sample values per column (default 3)",
    )
    schema.set_defaults(func=_schema)


def _run(args: argparse.Namespace) -> int:
    from studio.sql.execute import execute_sql

    result = execute_sql(args.db, args.sql, timeout_s=args.timeout, max_rows=args.max_rows)
    print(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
    if result.ok:
        return 0
    print(f"error ({result.error_kind}): {result.error}", file=sys.stderr)
    if result.error_kind == "refused":
        print(
            "only a single read-only query (SELECT, UNION, WITH ... SELECT) may run",
            file=sys.stderr,
        )
        return 2
    return 1


def _schema(args: argparse.Namespace) -> int:
    from studio.sql.introspect import introspect

    schema = introspect(args.db, sample_values=args.samples)
    print(json.dumps(schema.to_dict(), ensure_ascii=False, indent=2, default=str))
    return 0
