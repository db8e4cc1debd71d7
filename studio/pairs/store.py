"""The pair store: mining runs, candidates, per-question outcomes, pairs and their edit history,
in the workspace's studio.db (WAL). Every write is one short transaction; read-then-write
steps take the write lock up front (`BEGIN IMMEDIATE`), so several processes (a mining job,
the UI, the CLI) can write at once without losing or tearing anything.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from studio.workspace import Workspace, immediate

STATUSES = ("pending", "accepted", "edited", "rejected", "needs_review")
STRATEGIES = ("gold", "onpolicy")
LABELS = ("correct", "wrong_result", "error", "timeout", "gold_error")
ACTORS = ("cli", "ui")
PAIRED = "paired"  # the outcome of a question that gave at least one pair

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS pair_runs (
    id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    adapters TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pair_candidates (
    run_id TEXT NOT NULL REFERENCES pair_runs(id),
    question_index INTEGER NOT NULL,
    sample INTEGER NOT NULL,
    completion TEXT NOT NULL,
    sql TEXT NOT NULL,
    normalized TEXT,
    parse_error TEXT,
    label TEXT CHECK (label IS NULL OR label IN ({", ".join(repr(v) for v in LABELS)})),
    duplicate_of INTEGER,
    execution TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, question_index, sample)
);
CREATE TABLE IF NOT EXISTS pair_gold (
    run_id TEXT NOT NULL REFERENCES pair_runs(id),
    question_index INTEGER NOT NULL,
    execution TEXT NOT NULL,
    PRIMARY KEY (run_id, question_index)
);
CREATE TABLE IF NOT EXISTS pair_votes (
    run_id TEXT NOT NULL REFERENCES pair_runs(id),
    question_index INTEGER NOT NULL,
    sample INTEGER NOT NULL,
    votes INTEGER NOT NULL,
    executed INTEGER NOT NULL,
    distinct_results INTEGER NOT NULL,
    n INTEGER NOT NULL,
    correct INTEGER NOT NULL,
    PRIMARY KEY (run_id, question_index)
);
CREATE TABLE IF NOT EXISTS pair_questions (
    run_id TEXT NOT NULL REFERENCES pair_runs(id),
    question_index INTEGER NOT NULL,
    strategy TEXT NOT NULL,
    outcome TEXT NOT NULL,
    pairs INTEGER NOT NULL,
    built_at REAL NOT NULL,
    PRIMARY KEY (run_id, question_index, strategy)
);
CREATE TABLE IF NOT EXISTS pairs (
    id INTEGER PRIMARY KEY,
    run_id TEXT,
    question_index INTEGER,
    question_id TEXT,
    dataset TEXT,
    db_id TEXT,
    database TEXT NOT NULL,
    system TEXT NOT NULL,
    prompt TEXT NOT NULL,
    gold_sql TEXT NOT NULL,
    gold_execution TEXT NOT NULL,
    chosen_sql TEXT NOT NULL,
    chosen_origin TEXT NOT NULL,
    chosen_label TEXT NOT NULL,
    chosen_execution TEXT NOT NULL,
    rejected_sql TEXT NOT NULL,
    rejected_origin TEXT NOT NULL,
    rejected_label TEXT NOT NULL,
    rejected_execution TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('valid', 'flagged')),
    flag TEXT,
    model TEXT NOT NULL,
    adapters TEXT NOT NULL,
    strategy TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    version INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pairs_status ON pairs(status);
CREATE INDEX IF NOT EXISTS pairs_run ON pairs(run_id, question_index);
CREATE TABLE IF NOT EXISTS pair_edits (
    id INTEGER PRIMARY KEY,
    pair_id INTEGER NOT NULL REFERENCES pairs(id),
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    old_chosen TEXT,
    new_chosen TEXT,
    old_rejected TEXT,
    new_rejected TEXT,
    old_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    note TEXT
);
CREATE INDEX IF NOT EXISTS pair_edits_pair ON pair_edits(pair_id);
"""


def connect(ws: Workspace) -> sqlite3.Connection:
    """A connection to studio.db with the pair tables in place (autocommit; see `write`)."""
    return ws.connect_with_schema(SCHEMA)


def reading(ws: Workspace) -> contextlib.AbstractContextManager[sqlite3.Connection]:
    """A connection for reads (pair tables in place), closed afterwards."""
    return ws.schema_session(SCHEMA)


@contextlib.contextmanager
def writing(ws: Workspace) -> Iterator[sqlite3.Connection]:
    """One write transaction taken up front (`BEGIN IMMEDIATE`): committed on success,
    rolled back on any error; read-then-write inside it is atomic across processes."""
    conn = connect(ws)
    try:
        with immediate(conn):
            yield conn
    finally:
        conn.close()


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def from_json(text: str | None) -> Any:
    return json.loads(text) if text else None
