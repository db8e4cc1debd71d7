"""A second writer for the concurrency test: `python store_writer.py WORKSPACE ROLE COUNT`.

role "insert": settles COUNT synthetic questions of run "concurrent" (pairs + outcomes);
role "curate": edits or re-statuses the existing pairs COUNT times, each a real change.
Prints COUNT when done."""

from __future__ import annotations

import sys

from studio.data.importers.demo import open_workspace
from studio.pairs.build import QuestionPlan, Side
from studio.pairs.config import MiningConfig
from studio.pairs.curate import edit_pair, get_pair, list_pairs, set_status
from studio.pairs.records import Question, record_question, register_run
from studio.workspace import Workspace


def insert(ws: Workspace, count: int) -> int:
    config = MiningConfig(model="synthetic", dataset="demo_train", n=1, temperature=0.0)
    register_run(ws, "concurrent", config)
    template = list_pairs(ws, limit=1)[0]
    for index in range(count):
        question = Question(
            index,
            str(index),
            "demo_train",
            template.db_id,
            template.database,
            template.system,
            template.prompt,
            template.gold_sql,
        )
        chosen = Side(template.gold_sql, "gold", "correct", template.gold_execution)
        rejected = Side(f"SELECT {index}", f"sample:{index}", "wrong_result", {"ok": True})
        record_question(
            ws,
            "concurrent",
            question,
            "gold",
            [],
            QuestionPlan("paired", [(chosen, rejected)]),
            template.gold_execution,
            config,
        )
    return count


def curate(ws: Workspace, count: int) -> int:
    ids = [pair.id for pair in list_pairs(ws, run_id=list_pairs(ws, limit=1)[0].run_id)]
    for step in range(count):
        pair_id = ids[step % len(ids)]
        if step % 2:
            current = get_pair(ws, pair_id).status
            set_status(ws, pair_id, "rejected" if current != "rejected" else "accepted", actor="ui")
        else:
            edit_pair(ws, pair_id, rejected=f"SELECT -{step}", actor="ui")
    return count


if __name__ == "__main__":
    root, role, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print((insert if role == "insert" else curate)(open_workspace(root), count))
