"""Mining: generate candidates for a dataset's questions, verify them, build pairs.

Resumable by construction. Candidates are stored per batch as they are generated, keyed by
(run id, question index, sample); each question is then verified and its pairs and outcome
stored in one transaction. A run that starts again (same run id) first settles questions
that have candidates but no outcome (a crash between the two steps), then generates only
for questions that have no candidates, so nothing is lost and nothing is duplicated.
Verification runs between batches (execution on SQLite takes milliseconds a query). Each
question also gets the execution-guided vote among its samples (studio.pairs.majority), decided
from the stored executions; the run's figures come from the store, so a resumed run counts
every question it settled.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from studio.data.prompts import build_messages, render_chat
from studio.data.registry import database_ref, load_examples
from studio.errors import StudioError
from studio.jobs.rundir import RunDir
from studio.jobs.runtime import cancel_requested
from studio.pairs.build import plan_pairs
from studio.pairs.config import MiningConfig, read_config
from studio.pairs.majority import vote_candidates
from studio.pairs.progress import MiningProgress
from studio.pairs.records import (
    Question,
    questions_with_candidates,
    record_question,
    record_skip,
    register_run,
    run_counts,
    settled_questions,
    store_samples,
    stored_samples,
    stored_verification,
)
from studio.pairs.verify import verify_samples
from studio.sql.connect import parse_database
from studio.sql.dialect import normalize_sql
from studio.sql.extract import extract_sql, sql_settled
from studio.workspace import Workspace


class _Stopped(Exception):
    """Raised between batches when the job was asked to stop."""


def load_questions(ws: Workspace, config: MiningConfig) -> tuple[list[Question], dict[int, str]]:
    """The dataset's usable questions (first `limit`), and the others by index with the reason
    (`no_gold`: the row has no gold SQL; `no_database`: its db_id has no registered database)."""
    examples = load_examples(ws, config.dataset)[: config.limit]
    if not examples:
        raise StudioError(f"dataset '{config.dataset}' has no rows; import data first")
    questions, skipped = [], {}
    for example in examples:
        database = database_ref(ws, config.dataset, example.db_id) if example.db_id else None
        if not example.gold_sql:
            skipped[example.index] = "no_gold"
        elif database is None:
            skipped[example.index] = "no_database"
        else:
            messages = build_messages(example)
            system = messages[0]["content"] if messages[0]["role"] == "system" else ""
            question_id = None if example.question_id is None else str(example.question_id)
            questions.append(
                Question(
                    example.index,
                    question_id,
                    config.dataset,
                    example.db_id,
                    database,
                    system,
                    example.prompt,
                    example.gold_sql,
                )
            )
    if not questions:
        reasons = sorted(set(skipped.values()))
        raise StudioError(
            f"dataset '{config.dataset}' has no question to mine ({', '.join(reasons)}): rows need "
            "a gold SQL (output or gold_sql) and a db_id whose database is registered; re-import "
            "the dataset with its databases"
        )
    return questions, skipped


def settle_question(ws: Workspace, run_id: str, question: Question, config: MiningConfig) -> int:
    """Verify a question's stored candidates (or reuse their first verification: a second strategy
    executes nothing), vote among them, and store its pairs under `config.strategy`."""
    verified = stored_verification(ws, run_id, question.index)
    if verified is None:
        samples = stored_samples(ws, run_id, question.index)
        verified = verify_samples(question.database, question.gold_sql, samples, config.timeout_s)
    candidates, gold_execution = verified
    dialect = parse_database(question.database).dialect
    plan = plan_pairs(
        config.strategy,
        candidates,
        question.gold_sql,
        normalize_sql(question.gold_sql, dialect),
        gold_execution,
        config.pairs_per_question,
    )
    return record_question(
        ws,
        run_id,
        question,
        config.strategy,
        candidates,
        plan,
        gold_execution,
        config,
        vote_candidates(candidates),
    )


def _settle_leftovers(
    ws: Workspace,
    run_id: str,
    questions: list[Question],
    skipped: dict[int, str],
    config: MiningConfig,
) -> list[Question]:
    """Record skips, settle questions left with candidates but no outcome; return those to
    generate."""
    settled = settled_questions(ws, run_id, config.strategy)
    for index, reason in skipped.items():
        if index not in settled:
            record_skip(ws, run_id, index, config.strategy, reason)
    answered = questions_with_candidates(ws, run_id)
    for question in questions:
        if question.index in answered and question.index not in settled:
            settle_question(ws, run_id, question, config)
    return [q for q in questions if q.index not in answered]


def _generate(
    ws: Workspace, run_id: str, todo: list[Question], config: MiningConfig, progress: MiningProgress
) -> None:
    from studio.inference.generate import generate
    from studio.inference.settings import GenerationSettings
    from studio.models.loading import load_model

    progress.loading()
    loaded = load_model(config.model, adapters=config.adapters, merge=True)
    prompts = [
        render_chat(loaded.tokenizer, build_messages({"instruction": q.prompt, "system": q.system}))
        for q in todo
    ]
    settings = GenerationSettings(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        n=config.n,
        batch_size=config.batch_size,
        seed=config.seed,
        engine=config.engine,
    )

    def on_batch(indices: list[int], completions: list[list[str]]) -> None:
        rows = [
            (todo[i].index, sample, text, extract_sql(text))
            for i, texts in zip(indices, completions, strict=False)
            for sample, text in enumerate(texts)
        ]
        store_samples(ws, run_id, rows)
        for i in indices:
            settle_question(ws, run_id, todo[i], config)
        progress.update(len(indices), run_counts(ws, run_id), config.strategy)
        if cancel_requested():
            raise _Stopped

    progress.generating()
    generate(
        loaded,
        prompts,
        settings,
        on_batch=on_batch,
        settled=sql_settled,
        on_answered=progress.answered,
    )


def mine(ws: Workspace, run_dir: Path, config: MiningConfig) -> dict[str, Any]:
    """Run (or continue) mining run `run_dir.name`; writes metrics.jsonl and summary.json there."""
    run = RunDir(run_dir)
    run_id = run.name
    register_run(ws, run_id, config)
    questions, skipped = load_questions(ws, config)
    todo = _settle_leftovers(ws, run_id, questions, skipped, config)
    progress = MiningProgress(len(questions), len(questions) - len(todo), run.metrics, run_dir)
    status = "completed"
    try:
        if todo:
            _generate(ws, run_id, todo, config, progress)
    except _Stopped:
        status = "cancelled"
    finally:
        progress.close()
    counts = run_counts(ws, run_id)
    summary = {
        "run_id": run_id,
        "status": status,
        "config": config.to_dict(),
        "questions_total": len(questions) + len(skipped),
        "questions_usable": len(questions),
        "questions_done": progress.done,
        "questions_generated_now": progress.new,
        "elapsed_s": round(time.monotonic() - progress.started, 3),
        "questions_per_s": round(progress.questions_per_s, 4),
        **counts,
    }
    run.write_summary(summary)
    return summary


def rebuild_pairs(
    ws: Workspace, run_dir: Path, strategy: str, pairs_per_question: int | None = None
) -> dict[str, Any]:
    """Build pairs under another strategy from a run's stored candidates and their stored
    verification (nothing is generated or executed again); questions already built under that
    strategy are kept."""
    config = read_config(run_dir)
    config = dataclasses.replace(
        config,
        strategy=strategy,
        pairs_per_question=pairs_per_question or config.pairs_per_question,
    )
    questions, skipped = load_questions(ws, config)
    _settle_leftovers(ws, run_dir.name, questions, skipped, config)
    return run_counts(ws, run_dir.name)
