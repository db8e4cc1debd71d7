"""Export curated pairs as a registered preference dataset (LLaMA-Factory format, `ranking: true`)
plus TRL's conversational preference format.

    datasets/NAME.json          instruction, input, system, chosen, rejected (+ db_id, question_id,
                                gold_sql, pair_id, strategy); registered in dataset_info.json
    datasets/NAME.trl.jsonl     {"prompt": [system?, user], "chosen": [assistant],
                                "rejected": [assistant]}
    datasets/NAME.summary.json  counts by status and strategy, exported and left out

The name is checked and every file built before anything is written; the three files and the
registry entry are then written together (studio.data.registry.register_datasets). A dataset
of that name is replaced only with `replace`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from studio.data.clashes import NameClaim
from studio.data.names import checked_name
from studio.data.prompts import build_messages
from studio.data.registry import (
    DatasetMeta,
    NewDataset,
    check_names_free,
    register_datasets,
    registry_entry,
)
from studio.errors import StudioError
from studio.pairs.curate import Pair, PairFilter
from studio.pairs.store import reading
from studio.sql.connect import parse_database
from studio.workspace import Workspace

EXPORTED_STATUSES = ("accepted", "edited")


def preference_row(pair: Pair) -> dict[str, Any]:
    """The reference workflow's row: instruction/input/chosen/rejected plus system and
    provenance."""
    return {
        "instruction": pair.prompt,
        "input": "",
        "system": pair.system,
        "chosen": pair.chosen_sql,
        "rejected": pair.rejected_sql,
        "db_id": pair.db_id,
        "question_id": pair.question_id,
        "gold_sql": pair.gold_sql,
        "pair_id": pair.id,
        "strategy": pair.strategy,
    }


def trl_record(pair: Pair) -> dict[str, Any]:
    """TRL's conversational preference record (the prompt messages as inference builds them)."""
    return {
        "prompt": build_messages({"instruction": pair.prompt, "system": pair.system}),
        "chosen": [{"role": "assistant", "content": pair.chosen_sql}],
        "rejected": [{"role": "assistant", "content": pair.rejected_sql}],
    }


def companion_files(name: str) -> tuple[str, str]:
    """The TRL file and the summary written beside dataset `name` (file names in datasets/)."""
    return f"{name}.trl.jsonl", f"{name}.summary.json"


def export_pairs(
    ws: Workspace,
    name: str,
    include_pending: bool = False,
    only: PairFilter | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Export accepted and edited pairs (and pending ones when asked) that verify; register
    the dataset `name` and return the summary (also written beside the files).

    `only` narrows the pairs considered (a strategy, a mining run, a database); `replace`
    allows replacing a dataset called `name`."""
    trl_file, summary_file = companion_files(checked_name(name))
    check_names_free(ws, [NameClaim.of(name, companions=(trl_file, summary_file))], replace)
    statuses = EXPORTED_STATUSES + (("pending",) if include_pending else ())
    clause, params = (only or PairFilter()).where()
    with reading(ws) as conn:
        rows = conn.execute(f"SELECT * FROM pairs WHERE {clause} ORDER BY id", params).fetchall()
    pairs = [Pair.from_row(row) for row in rows]
    exported = [p for p in pairs if p.status in statuses and p.verdict == "valid"]
    if not exported:
        by_status = Counter(p.status for p in pairs)
        pending = (
            ""
            if include_pending
            else f" ({by_status.get('pending', 0)} pending: accept them or pass --include-pending)"
        )
        raise StudioError(
            f"no pairs to export: none is {' or '.join(statuses)}{pending}; "
            "mine pairs with `python -m studio pairs generate` and review them"
        )
    databases = {p.db_id: p.database for p in exported if p.db_id}
    dialects = {parse_database(p.database).dialect for p in exported}
    meta = DatasetMeta(
        dialect=dialects.pop() if len(dialects) == 1 else None,
        databases=databases,
        source_format="pairs",
    )
    summary = {
        "name": name,
        "rows": len(exported),
        "file": str(ws.root / registry_entry(name, "preference")["file_name"]),
        "trl_file": str(ws.datasets_dir / trl_file),
        "statuses": list(statuses),
        "exported_by_strategy": dict(Counter(p.strategy for p in exported)),
        "exported_by_status": dict(Counter(p.status for p in exported)),
        "all_by_status": dict(Counter(p.status for p in pairs)),
        "all_by_strategy": dict(Counter(p.strategy for p in pairs)),
    }
    companions = {
        trl_file: "".join(json.dumps(trl_record(p), ensure_ascii=False) + "\n" for p in exported),
        summary_file: json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
    }
    rows = [preference_row(p) for p in exported]
    dataset = NewDataset(name, rows, "preference", meta, companions)
    register_datasets(ws, [dataset], replace)
    return summary
