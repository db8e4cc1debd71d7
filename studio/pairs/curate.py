"""Curating pairs (what the UI and the CLI call): list, show, set status, edit, bulk status, counts.

Statuses: `pending` (as mined), `accepted`, `edited` (a person changed its SQL and the edit
verified), `rejected` (left out of exports), `needs_review` (not export-ready; every edit that
fails verification lands here). A pair's `verdict` is `valid` when its chosen SQL returns the
gold result and its rejected SQL is proven wrong (wrong result or error), else `flagged`
with the reason in `flag`. A flagged pair can only be `needs_review` or `rejected`, so a
rejected answer that is in fact right never reaches an export.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from studio.errors import StudioError
from studio.pairs.build import pair_verdict
from studio.pairs.store import ACTORS, STATUSES, STRATEGIES, from_json, reading, to_json, writing
from studio.pairs.verify import check_sql
from studio.workspace import Workspace

VERDICTS = ("valid", "flagged")
FLAGGED_STATUSES = ("needs_review", "rejected")
EDITED = "edited"
_JSON_COLUMNS = ("gold_execution", "chosen_execution", "rejected_execution", "adapters")


@dataclass(frozen=True)
class Pair:
    """One stored pair, with both sides' verification and where it came from."""

    id: int
    run_id: str | None
    question_index: int | None
    question_id: str | None
    dataset: str | None
    db_id: str | None
    database: str
    system: str
    prompt: str
    gold_sql: str
    gold_execution: dict[str, Any]
    chosen_sql: str
    chosen_origin: str
    chosen_label: str
    chosen_execution: dict[str, Any]
    rejected_sql: str
    rejected_origin: str
    rejected_label: str
    rejected_execution: dict[str, Any]
    verdict: str
    flag: str | None
    model: str
    adapters: list[str]
    strategy: str
    status: str
    version: int
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Pair:
        values = {f.name: row[f.name] for f in fields(cls)}
        for key in _JSON_COLUMNS:
            values[key] = from_json(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairEdit:
    """One change to a pair: who, when, what SQL and status before and after."""

    id: int
    pair_id: int
    at: float
    actor: str
    action: str
    old_chosen: str | None
    new_chosen: str | None
    old_rejected: str | None
    new_rejected: str | None
    old_status: str
    new_status: str
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairFilter:
    """Which pairs: every given field must match (None matches all)."""

    status: str | None = None
    strategy: str | None = None
    db_id: str | None = None
    verdict: str | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        for key, allowed in (("status", STATUSES), ("strategy", STRATEGIES), ("verdict", VERDICTS)):
            value = getattr(self, key)
            if value is not None and value not in allowed:
                raise StudioError(
                    f"pair filter {key}={value!r} is unknown; use one of {', '.join(allowed)}"
                )

    def where(self) -> tuple[str, list[Any]]:
        given = {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }
        clause = " AND ".join(f"{key} = ?" for key in given) or "1"
        return clause, list(given.values())


def _check_actor(actor: str) -> None:
    if actor not in ACTORS:
        raise StudioError(f"actor {actor!r} is unknown; use one of {', '.join(ACTORS)}")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise StudioError(f"status {status!r} is unknown; use one of {', '.join(STATUSES)}")


def list_pairs(
    ws: Workspace,
    status: str | None = None,
    strategy: str | None = None,
    db_id: str | None = None,
    verdict: str | None = None,
    run_id: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[Pair]:
    """Pairs matching the filters, oldest first, `limit` from `offset`."""
    clause, params = PairFilter(status, strategy, db_id, verdict, run_id).where()
    with reading(ws) as conn:
        rows = conn.execute(
            f"SELECT * FROM pairs WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
    return [Pair.from_row(row) for row in rows]


def get_pair(ws: Workspace, pair_id: int) -> Pair:
    """Pair `pair_id`; a StudioError when there is none."""
    with reading(ws) as conn:
        row = conn.execute("SELECT * FROM pairs WHERE id = ?", (pair_id,)).fetchone()
    if row is None:
        raise StudioError(
            f"no pair {pair_id} in workspace {ws.root}; `python -m studio pairs list` shows them"
        )
    return Pair.from_row(row)


def pair_history(ws: Workspace, pair_id: int) -> list[PairEdit]:
    """Every change to a pair, oldest first."""
    with reading(ws) as conn:
        rows = conn.execute(
            "SELECT * FROM pair_edits WHERE pair_id = ? ORDER BY id", (pair_id,)
        ).fetchall()
    return [PairEdit(**dict(row)) for row in rows]


def _status_problem(row: Mapping[str, Any], status: str) -> str | None:
    """Why `row` may not take `status`, or None."""
    if row["verdict"] == "flagged" and status not in FLAGGED_STATUSES:
        return (
            f"pair {row['id']} is flagged ({row['flag']}); edit its SQL so it verifies, "
            f"or set it to {' or '.join(FLAGGED_STATUSES)}"
        )
    if status == EDITED and "edit" not in (row["chosen_origin"], row["rejected_origin"]):
        return (
            f"pair {row['id']} was never edited; 'edited' is set by editing its SQL "
            "(--chosen/--rejected)"
        )
    return None


def _history(
    conn: Any,
    pair_id: int,
    actor: str,
    action: str,
    old_status: str,
    new_status: str,
    sql: Mapping[str, str | None] | None = None,
    note: str | None = None,
) -> None:
    sql = sql or {}
    conn.execute(
        "INSERT INTO pair_edits (pair_id, at, actor, action, old_chosen, new_chosen, old_rejected, "
        "new_rejected, old_status, new_status, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            pair_id,
            time.time(),
            actor,
            action,
            sql.get("old_chosen"),
            sql.get("new_chosen"),
            sql.get("old_rejected"),
            sql.get("new_rejected"),
            old_status,
            new_status,
            note,
        ),
    )


def set_status(ws: Workspace, pair_id: int, status: str, actor: str = "cli") -> Pair:
    """Set one pair's status (recorded in its history); a flagged pair only takes needs_review or
    rejected."""
    _check_status(status)
    _check_actor(actor)
    with writing(ws) as conn:
        row = conn.execute("SELECT * FROM pairs WHERE id = ?", (pair_id,)).fetchone()
        if row is None:
            raise StudioError(
                f"no pair {pair_id} in workspace {ws.root}; "
                "`python -m studio pairs list` shows them"
            )
        problem = _status_problem(row, status)
        if problem:
            raise StudioError(problem)
        if row["status"] != status:
            conn.execute(
                "UPDATE pairs SET status = ?, version = version + 1, updated_at = ? WHERE id = ?",
                (status, time.time(), pair_id),
            )
            _history(conn, pair_id, actor, "status", row["status"], status)
    return get_pair(ws, pair_id)


def bulk_set_status(
    ws: Workspace, filter: PairFilter | Mapping[str, Any], status: str, actor: str = "cli"
) -> int:
    """Set `status` on every pair matching `filter` that may take it (flagged pairs only take
    needs_review or rejected; they are passed over otherwise). Returns how many changed."""
    _check_status(status)
    _check_actor(actor)
    chosen = filter if isinstance(filter, PairFilter) else PairFilter(**filter)
    clause, params = chosen.where()
    now = time.time()
    changed = 0
    with writing(ws) as conn:
        for row in conn.execute(
            f"SELECT * FROM pairs WHERE {clause} AND status != ? ORDER BY id", (*params, status)
        ).fetchall():
            if _status_problem(row, status):
                continue
            conn.execute(
                "UPDATE pairs SET status = ?, version = version + 1, updated_at = ? WHERE id = ?",
                (status, now, row["id"]),
            )
            _history(conn, row["id"], actor, "bulk_status", row["status"], status)
            changed += 1
    return changed


def edit_pair(
    ws: Workspace,
    pair_id: int,
    chosen: str | None = None,
    rejected: str | None = None,
    actor: str = "cli",
    timeout_s: float = 30.0,
) -> Pair:
    """Replace a pair's chosen and/or rejected SQL, re-executing each against the gold.

    The pair becomes `edited` when it verifies (chosen returns the gold result, rejected is
    wrong, and no edited SQL is a syntax error), else `needs_review` with the reason in `flag`
    (e.g. an edited rejected SQL that returns the gold result). Labels and executions are
    stored either way.
    """
    _check_actor(actor)
    edits = {
        side: sql.strip()
        for side, sql in (("chosen", chosen), ("rejected", rejected))
        if sql is not None
    }
    if not edits:
        raise StudioError("nothing to edit: give the new chosen and/or rejected SQL")
    if any(not sql for sql in edits.values()):
        raise StudioError(
            "an edited SQL is empty; write a query, or set the pair's status to rejected instead"
        )
    pair = get_pair(
        ws, pair_id
    )  # database and gold never change, so checks can run outside the transaction
    checks = dict(
        zip(
            edits,
            check_sql(pair.database, pair.gold_sql, list(edits.values()), timeout_s),
            strict=False,
        )
    )
    with writing(ws) as conn:
        row = conn.execute("SELECT * FROM pairs WHERE id = ?", (pair_id,)).fetchone()
        labels = {
            side: checks[side].label if side in checks else row[f"{side}_label"]
            for side in ("chosen", "rejected")
        }
        verdict, flag = pair_verdict(labels["chosen"], labels["rejected"])
        unparsed = [side for side in edits if checks[side].execution.get("error_kind") == "syntax"]
        if unparsed and verdict == "valid":  # a typo is no wrong answer a model would write
            verdict = "flagged"
            flag = (
                f"the edited {' and '.join(unparsed)} SQL does not parse; fix it or reject the pair"
            )
        status = EDITED if verdict == "valid" else "needs_review"
        assignments, values = ["verdict = ?", "flag = ?", "status = ?"], [verdict, flag, status]
        history: dict[str, str | None] = {}
        for side, sql in edits.items():
            assignments += [
                f"{side}_sql = ?",
                f"{side}_origin = 'edit'",
                f"{side}_label = ?",
                f"{side}_execution = ?",
            ]
            values += [sql, checks[side].label, to_json(checks[side].execution)]
            history[f"old_{side}"], history[f"new_{side}"] = row[f"{side}_sql"], sql
        conn.execute(
            f"UPDATE pairs SET {', '.join(assignments)}, version = version + 1, updated_at = ? "
            "WHERE id = ?",
            (*values, time.time(), pair_id),
        )
        _history(conn, pair_id, actor, "edit", row["status"], status, history, flag or "verified")
    return get_pair(ws, pair_id)


def pair_counts(ws: Workspace) -> dict[str, Any]:
    """Pair totals: by status, strategy, verdict, and status within each strategy."""
    with reading(ws) as conn:
        rows = conn.execute(
            "SELECT strategy, status, verdict, count(*) AS n FROM pairs "
            "GROUP BY strategy, status, verdict"
        ).fetchall()
    counts: dict[str, Any] = {
        "total": 0,
        "by_status": {},
        "by_strategy": {},
        "by_verdict": {},
        "by_strategy_status": {},
    }
    for row in rows:
        n = row["n"]
        counts["total"] += n
        for key, value in (
            ("by_status", row["status"]),
            ("by_strategy", row["strategy"]),
            ("by_verdict", row["verdict"]),
        ):
            counts[key][value] = counts[key].get(value, 0) + n
        per = counts["by_strategy_status"].setdefault(row["strategy"], {})
        per[row["status"]] = per.get(row["status"], 0) + n
    return counts
