"""The workspace: one folder holding everything a user's studio owns.

    <root>/dataset_info.json   dataset registry, LLaMA-Factory format
    <root>/datasets/           dataset files written by importers and exports
    <root>/runs/<id>/          one folder per job (config, metrics.jsonl, log, adapter/, summary)
    <root>/studio.db           SQLite state (WAL): jobs, pairs, ...
    <root>/locks/              advisory lock files for cross-process writers

Created on first use; safe for several processes at once (SQLite WAL with a busy
timeout, atomic file replacement, advisory locks).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from studio.fsutil import file_lock

WORKSPACE_ENV = "STUDIO_WORKSPACE"
SQLITE_BUSY_TIMEOUT_S = 60.0


RUN_LABEL_CHARS = 40


def run_label(text: str) -> str:
    """`text` as part of a run folder's name: runs of other characters become one `_`."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_.")[:RUN_LABEL_CHARS].rstrip("_.")


def default_workspace_path() -> Path:
    """`$STUDIO_WORKSPACE`, else `./workspace`."""
    return Path(os.environ.get(WORKSPACE_ENV) or "workspace")


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken up front (`BEGIN IMMEDIATE`) on an autocommit connection:
    committed on success, rolled back on any error; read-then-write inside is atomic across
    processes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@dataclass(frozen=True)
class Workspace:
    """A studio workspace rooted at `root` (absolute)."""

    root: Path

    @classmethod
    def open(cls, path: str | Path | None = None) -> Workspace:
        """Open (creating on first use) the workspace at `path` or the default location."""
        root = Path(path) if path is not None else default_workspace_path()
        workspace = cls(root.expanduser().resolve())
        workspace._initialise()
        return workspace

    def _initialise(self) -> None:
        for folder in (self.root, self.datasets_dir, self.runs_dir, self.locks_dir):
            folder.mkdir(parents=True, exist_ok=True)
        # switching a new studio.db to WAL needs it alone: concurrent openers take turns
        with self.lock("workspace-init"), contextlib.closing(self.connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    @property
    def db_path(self) -> Path:
        return self.root / "studio.db"

    @property
    def dataset_info_path(self) -> Path:
        return self.root / "dataset_info.json"

    def connect(self) -> sqlite3.Connection:
        """A new connection to studio.db (WAL, busy timeout, rows addressable by name).

        Use it as `with contextlib.closing(ws.connect()) as conn, conn:` to commit or
        roll back and close; one connection per thread.
        """
        conn = sqlite3.connect(self.db_path, timeout=SQLITE_BUSY_TIMEOUT_S)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        return conn

    def connect_with_schema(self, schema: str) -> sqlite3.Connection:
        """An autocommit connection (transactions by explicit BEGIN) with `schema`'s idempotent DDL
        applied."""
        conn = self.connect()
        conn.isolation_level = None
        conn.executescript(schema)
        return conn

    @contextlib.contextmanager
    def schema_session(self, schema: str) -> Iterator[sqlite3.Connection]:
        """`connect_with_schema(schema)`, closed when the block ends."""
        conn = self.connect_with_schema(schema)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Exclusive cross-process lock named `name` (e.g. "dataset_info")."""
        with file_lock(self.locks_dir / f"{name}.lock"):
            yield

    def new_run_dir(self, kind: str, label: str = "") -> Path:
        """Create and return a fresh `runs/<kind>-<label>-<YYYYmmdd-HHMMSS>-<hex>` folder; the
        label (e.g. the dataset) is reduced to letters, digits, `_` and `.`, and left out when
        empty."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        readable = run_label(label)
        prefix = f"{kind}-{readable}" if readable else kind
        while True:
            run_dir = self.runs_dir / f"{prefix}-{stamp}-{secrets.token_hex(3)}"
            try:
                run_dir.mkdir(parents=True)
                return run_dir
            except FileExistsError:
                continue
