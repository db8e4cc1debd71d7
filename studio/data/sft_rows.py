"""Turn text-to-SQL records plus database schemas into Alpaca SFT rows, within a token budget.

When a prompt does not fit `cutoff_len` (leaving room for its answer), its schema is
shrunk in a fixed order, keeping the question whole:
  1. "samples"       drop sample values
  2. "descriptions"  drop column descriptions
  3. "tables"        keep only the tables the gold SQL reads (else those the question names)
An example that still does not fit is left out and reported, never truncated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.data.budget import TokenBudget
from studio.data.prompts import SYSTEM_PROMPT, build_instruction
from studio.data.relevance import related_tables
from studio.data.schema_text import SchemaView, render_schema, view_for_style
from studio.sql.schema import Schema

SHRINK_STAGES = ("samples", "descriptions", "tables")


@dataclass(frozen=True)
class SourceRecord:
    """One question with its gold SQL, as read from a benchmark file."""

    question_id: Any
    db_id: str
    question: str
    sql: str
    evidence: str | None = None
    difficulty: str | None = None


@dataclass
class BuildResult:
    """The rows built, how many prompts each shrink stage made fit, and what could not fit."""

    rows: list[dict[str, Any]]
    shrunk_by_stage: dict[str, int] = field(default_factory=dict)
    over_budget: list[Any] = field(default_factory=list)  # question_ids left out

    @property
    def shrunk(self) -> int:
        return sum(self.shrunk_by_stage.values())


def build_sft_rows(
    records: Sequence[SourceRecord],
    schemas: Mapping[str, Schema],
    dialect: str,
    style: str,
    budget: TokenBudget | None = None,
    progress: bool = False,
) -> BuildResult:
    """Alpaca rows (instruction, input, output, system + question fields) for `records`.

    `schemas` maps every record's db_id to its Schema; without a budget nothing is shrunk.
    """
    full = view_for_style(style)
    stage_views = [
        (None, full),
        ("samples", full.without_samples()),
        ("descriptions", full.without_samples().without_descriptions()),
    ]
    texts = _SchemaTexts(schemas)
    if budget is None:
        return BuildResult(
            [_row(r, _instruction(r, texts.get(r.db_id, full), dialect), None) for r in records]
        )

    answers = budget.answer_tokens([r.sql for r in records])
    overhead = budget.chat_overhead(SYSTEM_PROMPT)
    rest = budget.count(
        [_instruction(r, "", dialect) for r in records], progress, desc="measuring prompts"
    )
    chosen: dict[int, tuple[str, str | None]] = {}
    previous: dict[int, str] = {}
    pending = list(range(len(records)))
    for stage, view in stage_views:
        candidates = []
        for i in pending:
            instruction = _instruction(records[i], texts.get(records[i].db_id, view), dialect)
            if previous.get(i) != instruction:
                candidates.append(
                    (
                        i,
                        instruction,
                        overhead + rest[i] + texts.tokens(records[i].db_id, view, budget),
                    )
                )
            previous[i] = instruction
        _accept_fitting(budget, candidates, answers, stage, chosen)
        pending = [i for i in pending if i not in chosen]

    narrowest = stage_views[-1][1]
    candidates = []
    for i in pending:
        record = records[i]
        schema = schemas[record.db_id]
        keep = related_tables(schema, record.sql, record.question, record.evidence)
        if keep and len(keep) < len(schema.tables):
            view = narrowest.only_tables(keep)
            instruction = _instruction(record, texts.get(record.db_id, view), dialect)
            candidates.append(
                (i, instruction, overhead + rest[i] + texts.tokens(record.db_id, view, budget))
            )
    _accept_fitting(budget, candidates, answers, "tables", chosen)

    rows = [_row(records[i], *chosen[i]) for i in range(len(records)) if i in chosen]
    stages = Counter(stage for _, stage in chosen.values() if stage is not None)
    return BuildResult(
        rows=rows,
        shrunk_by_stage={stage: stages[stage] for stage in SHRINK_STAGES if stages[stage]},
        over_budget=[records[i].question_id for i in range(len(records)) if i not in chosen],
    )


class _SchemaTexts:
    """Rendered schema text and its token count per (db_id, view), each computed once."""

    def __init__(self, schemas: Mapping[str, Schema]) -> None:
        self._schemas = schemas
        self._texts: dict[tuple[str, SchemaView], str] = {}
        self._tokens: dict[tuple[str, SchemaView], int] = {}

    def get(self, db_id: str, view: SchemaView) -> str:
        key = (db_id, view)
        if key not in self._texts:
            self._texts[key] = render_schema(self._schemas[db_id], view)
        return self._texts[key]

    def tokens(self, db_id: str, view: SchemaView, budget: TokenBudget) -> int:
        key = (db_id, view)
        if key not in self._tokens:
            self._tokens[key] = budget.count([self.get(db_id, view)])[0]
        return self._tokens[key]


def _accept_fitting(
    budget: TokenBudget,
    candidates: list[tuple[int, str, int]],
    answers: list[int],
    stage: str | None,
    chosen: dict[int, tuple[str, str | None]],
) -> None:
    verdicts = budget.fits(
        [estimate for _, _, estimate in candidates],
        [text for _, text, _ in candidates],
        [answers[i] for i, _, _ in candidates],
        SYSTEM_PROMPT,
    )
    for (i, text, _), fits in zip(candidates, verdicts, strict=False):
        if fits:
            chosen[i] = (text, stage)


def _instruction(record: SourceRecord, schema_text: str, dialect: str) -> str:
    return build_instruction(record.question, schema_text, dialect, record.evidence)


def _row(record: SourceRecord, instruction: str, shrunk: str | None) -> dict[str, Any]:
    return {
        "instruction": instruction,
        "input": "",
        "output": record.sql,
        "system": SYSTEM_PROMPT,
        "question_id": record.question_id,
        "db_id": record.db_id,
        "question": record.question,
        "evidence": record.evidence or "",
        "difficulty": record.difficulty,
        "schema_shrunk": shrunk,
    }
