"""What a mining run writes: its settings, candidates (per batch), and per question its
labels, vote, pairs and outcome (in one transaction, so a question is settled wholly or not at
all)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.errors import StudioError
from studio.pairs.build import QuestionPlan, pair_verdict
from studio.pairs.config import MiningConfig
from studio.pairs.majority import QuestionVote, vote_figures
from studio.pairs.store import PAIRED, from_json, reading, to_json, writing
from studio.pairs.verify import Candidate
from studio.workspace import Workspace

# settings that change what is generated: a resumed run must keep them
GENERATION_KEYS = (
    "model",
    "adapters",
    "dataset",
    "n",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
)


@dataclass(frozen=True)
class Question:
    """A question a pair is about: its prompt (system + user message), database and gold."""

    index: int
    question_id: str | None
    dataset: str
    db_id: str | None
    database: str
    system: str
    prompt: str
    gold_sql: str


def register_run(ws: Workspace, run_id: str, config: MiningConfig) -> None:
    """Record the run, or check that a resumed run keeps the settings its candidates came from."""
    settings = {key: getattr(config, key) for key in GENERATION_KEYS}
    with writing(ws) as conn:
        row = conn.execute("SELECT settings FROM pair_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO pair_runs (id, dataset, model, adapters, settings, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    config.dataset,
                    config.model,
                    to_json(config.adapters),
                    to_json(settings),
                    time.time(),
                ),
            )
            return
    stored = from_json(row["settings"])
    changed = [key for key in GENERATION_KEYS if stored.get(key) != settings[key]]
    if changed:
        differing = ", ".join(f"{k}={stored.get(k)!r}" for k in changed)
        raise StudioError(
            f"mining run {run_id} was started with other settings ({differing}); "
            "resume it with its own config.json, or start a new run for new settings"
        )


def store_samples(ws: Workspace, run_id: str, rows: Sequence[tuple[int, int, str, str]]) -> int:
    """Store `(question_index, sample, completion, sql)` rows in one transaction; rows already
    stored (same run, question and sample) are left as they are. Returns how many were new."""
    now = time.time()
    with writing(ws) as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO pair_candidates (run_id, question_index, sample, completion, "
            "sql, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, q, s, completion, sql, now) for q, s, completion, sql in rows],
        )
        return conn.total_changes - before


def questions_with_candidates(ws: Workspace, run_id: str) -> set[int]:
    with reading(ws) as conn:
        rows = conn.execute(
            "SELECT DISTINCT question_index FROM pair_candidates WHERE run_id = ?", (run_id,)
        )
        return {row[0] for row in rows}


def settled_questions(ws: Workspace, run_id: str, strategy: str) -> set[int]:
    """Questions of the run that already have an outcome (pairs or a skip reason) for `strategy`."""
    with reading(ws) as conn:
        rows = conn.execute(
            "SELECT question_index FROM pair_questions WHERE run_id = ? AND strategy = ?",
            (run_id, strategy),
        )
        return {row[0] for row in rows}


def stored_samples(ws: Workspace, run_id: str, question_index: int) -> list[tuple[int, str, str]]:
    """`(sample, completion, sql)` of one question, in sample order."""
    with reading(ws) as conn:
        rows = conn.execute(
            "SELECT sample, completion, sql FROM pair_candidates "
            "WHERE run_id = ? AND question_index = ? ORDER BY sample",
            (run_id, question_index),
        ).fetchall()
    return [(row["sample"], row["completion"], row["sql"]) for row in rows]


def stored_verification(
    ws: Workspace, run_id: str, question_index: int
) -> tuple[list[Candidate], dict[str, Any]] | None:
    """A question's candidates as verified when it was first settled, and its gold's execution;
    None when it was never verified (then its candidates are executed again)."""
    with reading(ws) as conn:
        gold = conn.execute(
            "SELECT execution FROM pair_gold WHERE run_id = ? AND question_index = ?",
            (run_id, question_index),
        ).fetchone()
        rows = conn.execute(
            "SELECT sample, completion, sql, normalized, parse_error, label, duplicate_of, "
            "execution "
            "FROM pair_candidates WHERE run_id = ? AND question_index = ? ORDER BY sample",
            (run_id, question_index),
        ).fetchall()
    if gold is None or not rows or any(row["label"] is None for row in rows):
        return None
    candidates = [
        Candidate(
            sample=row["sample"],
            completion=row["completion"],
            sql=row["sql"],
            normalized=row["normalized"],
            parse_error=row["parse_error"],
            label=row["label"],
            duplicate_of=row["duplicate_of"],
            execution=from_json(row["execution"]),
        )
        for row in rows
    ]
    return candidates, from_json(gold["execution"])


def record_skip(
    ws: Workspace, run_id: str, question_index: int, strategy: str, reason: str
) -> None:
    """Record that a question gave no pairs, and why (idempotent)."""
    with writing(ws) as conn:
        conn.execute(
            "INSERT OR IGNORE INTO pair_questions (run_id, question_index, strategy, outcome, "
            "pairs, built_at) VALUES (?, ?, ?, ?, 0, ?)",
            (run_id, question_index, strategy, reason, time.time()),
        )


def record_question(
    ws: Workspace,
    run_id: str,
    question: Question,
    strategy: str,
    candidates: Sequence[Candidate],
    plan: QuestionPlan,
    gold_execution: dict[str, Any],
    source: MiningConfig,
    vote: QuestionVote | None = None,
) -> int:
    """Store a question's candidate labels, its vote (kept from the first strategy), its pairs
    and its outcome in one transaction. A question already settled for `strategy` (e.g. by a
    concurrent run) is left alone; returns the number of pairs added."""
    now = time.time()
    with writing(ws) as conn:
        if conn.execute(
            "SELECT 1 FROM pair_questions WHERE run_id = ? AND question_index = ? AND strategy = ?",
            (run_id, question.index, strategy),
        ).fetchone():
            return 0
        conn.executemany(
            "UPDATE pair_candidates SET normalized = ?, parse_error = ?, label = ?, "
            "duplicate_of = ?, execution = ? "
            "WHERE run_id = ? AND question_index = ? AND sample = ?",
            [
                (
                    c.normalized,
                    c.parse_error,
                    c.label,
                    c.duplicate_of,
                    to_json(c.execution),
                    run_id,
                    question.index,
                    c.sample,
                )
                for c in candidates
            ],
        )
        conn.execute(
            "INSERT OR REPLACE INTO pair_gold (run_id, question_index, execution) VALUES (?, ?, ?)",
            (run_id, question.index, to_json(gold_execution)),
        )
        if vote is not None:
            conn.execute(
                "INSERT OR IGNORE INTO pair_votes (run_id, question_index, sample, votes, "
                "executed, distinct_results, n, correct) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    question.index,
                    vote.sample,
                    vote.vote.votes,
                    vote.vote.executed,
                    vote.vote.distinct_results,
                    vote.vote.n,
                    vote.correct,
                ),
            )
        for chosen, rejected in plan.pairs:
            verdict, flag = pair_verdict(chosen.label, rejected.label)
            conn.execute(
                "INSERT INTO pairs (run_id, question_index, question_id, dataset, db_id, database, "
                "system, prompt, gold_sql, gold_execution, chosen_sql, chosen_origin, "
                "chosen_label, chosen_execution, rejected_sql, rejected_origin, rejected_label, "
                "rejected_execution, verdict, flag, model, adapters, strategy, status, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, 'pending', ?, ?)",
                (
                    run_id,
                    question.index,
                    question.question_id,
                    question.dataset,
                    question.db_id,
                    question.database,
                    question.system,
                    question.prompt,
                    question.gold_sql,
                    to_json(gold_execution),
                    chosen.sql,
                    chosen.origin,
                    chosen.label,
                    to_json(chosen.execution),
                    rejected.sql,
                    rejected.origin,
                    rejected.label,
                    to_json(rejected.execution),
                    verdict,
                    flag,
                    source.model,
                    to_json(source.adapters),
                    strategy,
                    now,
                    now,
                ),
            )
        conn.execute(
            "INSERT INTO pair_questions (run_id, question_index, strategy, outcome, pairs, "
            "built_at) VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, question.index, strategy, plan.outcome, len(plan.pairs), now),
        )
    return len(plan.pairs)


def question_vote(
    ws: Workspace, run_id: str | None, question_index: int | None
) -> dict[str, Any] | None:
    """A mined question's vote among its samples (voted sample, votes, executed, distinct
    results, n, correct); None when it has none."""
    with reading(ws) as conn:
        row = conn.execute(
            "SELECT sample, votes, executed, distinct_results, n, correct FROM pair_votes "
            "WHERE run_id = ? AND question_index = ?",
            (run_id, question_index),
        ).fetchone()
    return None if row is None else {**dict(row), "correct": bool(row["correct"])}


def run_counts(ws: Workspace, run_id: str) -> dict[str, Any]:
    """A run's candidates by label (duplicates apart), pairs by strategy, outcomes by strategy,
    and the figures of the vote among each question's samples (studio.pairs.majority)."""
    with reading(ws) as conn:
        labels = Counter()
        duplicates = unverified = 0
        for row in conn.execute(
            "SELECT label, duplicate_of IS NOT NULL AS dup, count(*) AS n FROM pair_candidates "
            "WHERE run_id = ? GROUP BY label, dup",
            (run_id,),
        ):
            if row["label"] is None:
                unverified += row["n"]
            elif row["dup"]:
                duplicates += row["n"]
            else:
                labels[row["label"]] += row["n"]
        questions = conn.execute(
            "SELECT count(DISTINCT question_index) FROM pair_candidates WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        pairs = dict(
            conn.execute(
                "SELECT strategy, count(*) FROM pairs WHERE run_id = ? GROUP BY strategy", (run_id,)
            ).fetchall()
        )
        outcomes: dict[str, dict[str, int]] = {}
        for row in conn.execute(
            "SELECT strategy, outcome, count(*) AS n FROM pair_questions WHERE run_id = ? "
            "GROUP BY strategy, outcome",
            (run_id,),
        ):
            outcomes.setdefault(row["strategy"], {})[row["outcome"]] = row["n"]
        settings = conn.execute("SELECT settings FROM pair_runs WHERE id = ?", (run_id,)).fetchone()
        voted = conn.execute(
            "SELECT v.correct, sum(c.label = 'correct'), count(*) FROM pair_votes AS v "
            "JOIN pair_candidates AS c USING (run_id, question_index) WHERE v.run_id = ? "
            "GROUP BY v.question_index",
            (run_id,),
        ).fetchall()
    n = from_json(settings["settings"])["n"] if settings else 0
    skipped = {s: {k: v for k, v in o.items() if k != PAIRED} for s, o in outcomes.items()}
    return {
        "questions_with_candidates": questions,
        "candidates": dict(labels),
        "duplicates": duplicates,
        "unverified": unverified,
        "pairs": pairs,
        "questions_paired": {s: o.get(PAIRED, 0) for s, o in outcomes.items()},
        "skipped": skipped,
        "vote": vote_figures(n, [(bool(row[0]), row[1], row[2]) for row in voted]),
    }
