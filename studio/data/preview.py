"""A dataset row as a model will see it: the chat-template-rendered prompt and its gold SQL
(or chosen/rejected SQL for preference data). Tokenizers are loaded once per model reference."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.errors import StudioError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from studio.workspace import Workspace


@dataclass(frozen=True)
class RowPreview:
    """One dataset row: where it comes from, its rendered prompt and its answer(s)."""

    index: int
    db_id: str | None
    difficulty: str | None
    question: str | None
    rendered_prompt: str
    gold_sql: str | None
    chosen: str | None
    rejected: str | None


@functools.lru_cache(maxsize=4)
def cached_tokenizer(model_ref: str) -> PreTrainedTokenizerBase:
    """The tokenizer of `model_ref`, loaded once per process."""
    from studio.models.references import load_tokenizer

    return load_tokenizer(model_ref)


def preview_rows(
    ws: Workspace, dataset: str, model_ref: str, start: int = 0, count: int = 3
) -> list[RowPreview]:
    """Rows `start`..`start+count` of `dataset`, prompts rendered with `model_ref`'s chat
    template."""
    from studio.data.prompts import build_messages, render_chat
    from studio.data.registry import load_examples

    examples = load_examples(ws, dataset)
    if not examples:
        raise StudioError(f"dataset '{dataset}' has no rows; import it again")
    if not 0 <= start < len(examples):
        raise StudioError(
            f"row {start} is outside dataset '{dataset}' (rows 0 to {len(examples) - 1})"
        )
    tokenizer = cached_tokenizer(model_ref)
    return [
        RowPreview(
            index=example.index,
            db_id=example.db_id,
            difficulty=example.difficulty,
            question=example.question,
            rendered_prompt=render_chat(tokenizer, build_messages(example)),
            gold_sql=example.gold_sql,
            chosen=example.chosen,
            rejected=example.rejected,
        )
        for example in examples[start : start + count]
    ]
