"""Two processes writing the pair store at once (one inserting pairs, one curating) and the
test process curating too: nothing is lost, torn or locked out."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

from studio.pairs.curate import PairFilter, bulk_set_status, list_pairs, pair_history
from studio.workspace import Workspace

from .conftest import REPO_ROOT, TINY_LIMIT, store_rows

WRITER = Path(__file__).with_name("store_writer.py")


def test_concurrent_writers_leave_a_consistent_store(mined: tuple[Workspace, Path]) -> None:
    ws, run_dir = mined
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    inserted, curated = 40, 30
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(ws.root), role, str(count)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role, count in (("insert", inserted), ("curate", curated))
    ]
    bulk_changes, rounds = 0, 0
    while any(proc.poll() is None for proc in procs) or rounds < 2:
        rounds += 1
        bulk_changes += bulk_set_status(
            ws, PairFilter(run_id="concurrent"), ("accepted", "rejected")[rounds % 2], actor="cli"
        )
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    pairs = list_pairs(ws, limit=1000)
    assert len(pairs) == TINY_LIMIT + inserted
    outcomes = store_rows(
        ws, "SELECT count(*), sum(pairs) FROM pair_questions WHERE run_id = 'concurrent'"
    )[0]
    assert tuple(outcomes) == (inserted, inserted)
    edits = store_rows(ws, "SELECT count(*) FROM pair_edits")[0][0]
    assert edits == curated + bulk_changes
    for pair in pairs:  # every pair's history ends in its current status
        history = pair_history(ws, pair.id)
        if history:
            assert history[-1].new_status == pair.status
            assert all(a.new_status == b.old_status for a, b in itertools.pairwise(history))
    mined_pairs = [p for p in pairs if p.run_id == run_dir.name]
    assert all(p.rejected_sql.startswith("SELECT -") for p in mined_pairs if p.status == "edited")
    assert store_rows(ws, "PRAGMA integrity_check")[0][0] == "ok"
