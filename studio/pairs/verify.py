"""Labelling SQL by execution: each candidate is parsed (sqlglot), de-duplicated by its
normal form within its question, and run read-only next to the gold.

Labels: `correct` (same result as the gold, by the SQL layer's rule), `wrong_result`
(runs, other result), `error` (fails, or is refused as a non-query), `timeout` (ran out
of time: not proven wrong), `gold_error` (the gold itself fails, so nothing can be judged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from studio.sql.connect import parse_database
from studio.sql.dialect import normalize_sql, parse_error
from studio.sql.guard import check_statement
from studio.sql.score import ScoreItem, score

CATEGORY_LABELS = {
    "correct": "correct",
    "wrong_result": "wrong_result",
    "pred_error": "error",
    "pred_refused": "error",
    "pred_timeout": "timeout",
    "gold_error": "gold_error",
}


@dataclass(frozen=True)
class Check:
    """One SQL judged against a gold: its label and both executions' summaries."""

    label: str
    execution: dict[str, Any]
    gold_execution: dict[str, Any]


@dataclass(frozen=True)
class Candidate:
    """A model sample with its verification (duplicate_of: the earlier sample it repeats)."""

    sample: int
    completion: str
    sql: str
    normalized: str
    parse_error: str | None
    label: str
    duplicate_of: int | None
    execution: dict[str, Any]


def check_sql(
    database: str, gold_sql: str, sqls: Sequence[str], timeout_s: float = 30.0
) -> list[Check]:
    """Execute each SQL and the gold on `database` (read-only) and label each SQL; each
    execution carries the digest of its rows, which the vote among samples compares."""
    items = [ScoreItem(str(i), database, gold_sql, sql) for i, sql in enumerate(sqls)]
    verdicts = score(items, workers=1, timeout_s=timeout_s, digests=True)
    return [Check(CATEGORY_LABELS[v.category], asdict(v.pred), asdict(v.gold)) for v in verdicts]


def verify_samples(
    database: str, gold_sql: str, samples: Sequence[tuple[int, str, str]], timeout_s: float = 30.0
) -> tuple[list[Candidate], dict[str, Any]]:
    """Candidates for `(sample, completion, sql)` triples of one question, and the gold's
    execution summary. A sample whose normal form repeats an earlier one is not run again:
    it keeps that one's label and points at it with `duplicate_of`; a sample the guard refuses
    repeats none (its normal form drops the comments a refusal may hinge on)."""
    ref = parse_database(database)
    dialect = ref.dialect
    first_of: dict[str, int] = {}
    normals, keys = [], []
    for sample, _completion, sql in samples:
        normal = normalize_sql(sql, dialect)
        key = normal if check_statement(sql, dialect, ref.database) is None else f"refused:{sql}"
        normals.append(normal)
        keys.append(key)
        first_of.setdefault(key, sample)
    unique = [
        (s, sql) for (s, _c, sql), key in zip(samples, keys, strict=False) if first_of[key] == s
    ]
    checks = dict(
        zip(
            (s for s, _ in unique),
            check_sql(database, gold_sql, [sql for _, sql in unique], timeout_s),
            strict=False,
        )
    )
    candidates = []
    for (sample, completion, sql), normal, key in zip(samples, normals, keys, strict=False):
        original = first_of[key]
        check = checks[original]
        candidates.append(
            Candidate(
                sample=sample,
                completion=completion,
                sql=sql,
                normalized=normal,
                parse_error=parse_error(sql, dialect) if sql else "empty SQL",
                label=check.label,
                duplicate_of=None if original == sample else original,
                execution=check.execution,
            )
        )
    gold_execution = next(iter(checks.values())).gold_execution
    return candidates, gold_execution
