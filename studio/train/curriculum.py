"""GRPO's curriculum helper: leave out questions a pair-mining run found settled.

A group of answers that are all right, or all wrong, has no spread of rewards, so GRPO learns
nothing from it. A mining run (`python -m studio pairs generate`) already sampled and labelled
several answers per question with the SFT model; `grpo_skip_settled: <run id>` drops the
training questions whose candidates there were all `correct` (always right) or had none
`correct` (always wrong). Questions are matched by their user prompt and gold SQL, so the
mining run may have used another dataset holding the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from studio.data.registry import load_examples
from studio.errors import StudioError
from studio.pairs.store import reading
from studio.workspace import Workspace

QuestionKey = tuple[str, str]  # (user prompt, gold SQL)


def question_key(prompt: str, gold_sql: str) -> QuestionKey:
    return prompt.strip(), gold_sql.strip()


def settled_questions(ws: Workspace, run_id: str) -> dict[QuestionKey, str]:
    """The questions of mining run `run_id` whose labelled candidates were all correct
    ("always_right") or none correct ("always_wrong")."""
    with reading(ws) as conn:
        run = conn.execute("SELECT dataset FROM pair_runs WHERE id = ?", (run_id,)).fetchone()
        if run is None:
            raise StudioError(
                f"config key 'grpo_skip_settled': no pair-mining run '{run_id}' in this "
                "workspace; give the id of a run of `python -m studio pairs generate` (its "
                "runs/pairs-* folder name), or remove the key"
            )
        rows = conn.execute(
            "SELECT question_index, label FROM pair_candidates WHERE run_id = ? "
            "AND label IS NOT NULL",
            (run_id,),
        ).fetchall()
    labels: dict[int, list[str]] = {}
    for row in rows:
        labels.setdefault(row["question_index"], []).append(row["label"])
    examples = {e.index: e for e in load_examples(ws, run["dataset"])}
    settled: dict[QuestionKey, str] = {}
    for index, found in labels.items():
        example = examples.get(index)
        if example is None or not example.gold_sql or "gold_error" in found:
            continue
        correct = sum(label == "correct" for label in found)
        if correct in (0, len(found)):
            key = question_key(example.prompt, example.gold_sql)
            settled[key] = "always_right" if correct else "always_wrong"
    return settled


def skip_settled(
    records: Sequence[dict[str, Any]], settled: dict[QuestionKey, str]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The GRPO records whose question is not settled, and how many were kept and left out."""
    kept: list[dict[str, Any]] = []
    counts = {"kept": 0, "always_right": 0, "always_wrong": 0}
    for record in records:
        why = settled.get(question_key(record["prompt"][-1]["content"], record["gold_sql"]))
        if why is None:
            kept.append(record)
            counts["kept"] += 1
        else:
            counts[why] += 1
    return kept, counts
