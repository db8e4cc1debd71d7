"""The playground: one question answered side by side by up to three model variants.

A variant is a model reference plus a LoRA adapter stack (base, base+SFT, base+SFT+DPO).
The prompt is the one the studio trains on: the data layer's instruction (dialect, schema
introspected from the database, evidence, question) in the model's own chat template.
Each variant answers greedily, or with `vote_n` by an execution-guided vote among that many
sampled answers (studio.inference.voting); its SQL is extracted, run read-only, and judged
against the gold SQL when one is given (the same rule as evaluation). Loaded models stay in a
`ModelPool` between questions.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.inference.settings import DEFAULT_MAX_NEW_TOKENS
from studio.inference.voting import DEFAULT_VOTE_TEMPERATURE, Vote
from studio.jobs.rundir import ADAPTER_CONFIG, adapter_label
from studio.sql.execute import ExecResult

if TYPE_CHECKING:
    from studio.models.loading import LoadedModel

MAX_VARIANTS = 3
DISPLAY_MAX_ROWS = 200
DEFAULT_TIMEOUT_S = 30.0
VERDICT_TEXT = {
    "correct": "correct: same result as the gold SQL",
    "wrong_result": "wrong: runs, but returns another result than the gold SQL",
    "pred_error": "error: the SQL fails on the database",
    "pred_timeout": "timeout: the SQL ran out of time",
    "pred_refused": "refused: the SQL is not a read-only query",
    "gold_error": "cannot judge: the gold SQL itself fails on the database",
}


@dataclass(frozen=True)
class Variant:
    """A model to ask: a reference (builtin:..., a model folder, a .gguf file) and LoRA adapters in
    order."""

    ref: str
    adapters: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """A short display name: the model, then each adapter's folder name (its run id for studio
        runs)."""
        names = [adapter_label(a) for a in self.adapters]
        return " + ".join([self.ref, *names])


@dataclass(frozen=True)
class VariantAnswer:
    """What one variant answered: its reply, the SQL in it, that SQL's execution and, when a gold
    SQL was given, the verdict (a score category: correct, wrong_result, pred_error, ...), and
    the vote when it answered by voting over samples. `error` is set instead when the variant
    could not answer (e.g. its model failed to load)."""

    variant: Variant
    completion: str = ""
    sql: str = ""
    execution: ExecResult | None = None
    verdict: str | None = None
    error: str | None = None
    seconds: float = 0.0
    vote: Vote | None = None

    @property
    def verdict_text(self) -> str | None:
        return VERDICT_TEXT.get(self.verdict, self.verdict) if self.verdict else None

    @property
    def agreement_text(self) -> str | None:
        """How many samples agree with the voted answer, e.g. "5/8 samples agree"."""
        if self.vote is None:
            return None
        results = self.vote.distinct_results
        return (
            f"{self.vote.votes}/{self.vote.n} samples agree "
            f"({results} distinct result{'s' if results != 1 else ''})"
        )


class ModelPool:
    """Up to `capacity` loaded variants, the least recently used dropped first; safe across threads
    (one load at a time, so two requests for the same variant load it once)."""

    def __init__(self, capacity: int = MAX_VARIANTS) -> None:
        if capacity < 1:
            raise ValueError("a model pool holds at least one model")
        self.capacity = capacity
        self._models: OrderedDict[Variant, LoadedModel] = OrderedDict()
        self._lock = threading.RLock()

    def get(self, variant: Variant) -> LoadedModel:
        """The loaded model of `variant`, loading it (adapters merged) on first use."""
        from studio.models.loading import load_model

        with self._lock:
            if variant in self._models:
                self._models.move_to_end(variant)
                return self._models[variant]
            loaded = load_model(variant.ref, adapters=list(variant.adapters), merge=True)
            self._models[variant] = loaded
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return loaded

    def is_loaded(self, variant: Variant) -> bool:
        with self._lock:
            return variant in self._models

    def loaded(self) -> list[Variant]:
        """The variants held, least recently used first."""
        with self._lock:
            return list(self._models)

    def unload(self) -> list[Variant]:
        """Drop every loaded variant and give its memory back; returns the variants dropped."""
        import gc

        import torch

        with self._lock:
            dropped = list(self._models)
            self._models.clear()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return dropped


_DEFAULT_POOL: ModelPool | None = None
_DEFAULT_POOL_LOCK = threading.Lock()


def default_pool() -> ModelPool:
    """The process-wide pool the studio shares, so models stay loaded between questions."""
    global _DEFAULT_POOL
    with _DEFAULT_POOL_LOCK:
        if _DEFAULT_POOL is None:
            _DEFAULT_POOL = ModelPool()
        return _DEFAULT_POOL


def check_variants(variants: Sequence[Variant]) -> list[Variant]:
    """The variants without repeats, in order; a StudioError for none, too many, or a bad
    adapter."""
    unique = list(dict.fromkeys(variants))
    if not unique:
        raise StudioError(
            "choose at least one model variant (a model reference, optionally with adapters)"
        )
    if len(unique) > MAX_VARIANTS:
        raise StudioError(
            f"the playground compares at most {MAX_VARIANTS} variants; {len(unique)} were given"
        )
    for variant in unique:
        if not variant.ref.strip():
            raise StudioError(
                "a variant has no model reference; use builtin:<name>, a model folder or a "
                ".gguf file"
            )
        for adapter in variant.adapters:
            if not (Path(adapter) / ADAPTER_CONFIG).is_file():
                raise StudioError(
                    f"variant {variant.label}: {adapter} is not a LoRA adapter folder "
                    f"(no {ADAPTER_CONFIG}); pick a run's adapter/ folder"
                )
    return unique


def build_messages_for(
    question: str, database: str, evidence: str | None = None, schema_style: str = "ddl"
) -> list[dict[str, str]]:
    """System and user messages for `question` on `database`, its schema introspected there."""
    from studio.data.prompts import build_instruction, build_messages
    from studio.data.schema_text import render_schema, view_for_style
    from studio.sql.introspect import introspect

    if not question.strip():
        raise StudioError("type a question, or pick a dataset row")
    schema = introspect(database)
    instruction = build_instruction(
        question, render_schema(schema, view_for_style(schema_style)), schema.dialect, evidence
    )
    return build_messages({"instruction": instruction})


def answer_variant(
    pool: ModelPool,
    variant: Variant,
    messages: list[dict[str, str]],
    database: str,
    gold_sql: str | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    vote_n: int = 0,
) -> VariantAnswer:
    """One variant's answer to `messages` (greedy, or voted among `vote_n` samples when it is 2
    or more), its SQL run on `database` and judged against `gold_sql`. A model that cannot be
    loaded gives an answer whose `error` says why."""
    from studio.data.prompts import render_chat
    from studio.sql.execute import execute_sql
    from studio.sql.extract import extract_sql

    started = time.monotonic()
    try:
        loaded = pool.get(variant)
        prompt = render_chat(loaded.tokenizer, messages)
    except (StudioError, OSError, ValueError) as error:
        return VariantAnswer(
            variant,
            error=f"{variant.label} could not answer: {error}",
            seconds=time.monotonic() - started,
        )
    voted: Vote | None = None
    if vote_n >= 2:
        completion, sql, voted = voted_answer(
            loaded, prompt, database, vote_n, max_new_tokens, timeout_s=timeout_s
        )
    else:
        completion = greedy_answer(loaded, prompt, max_new_tokens)
        sql = extract_sql(completion)
    execution = execute_sql(database, sql, timeout_s=timeout_s, max_rows=DISPLAY_MAX_ROWS)
    verdict = (
        judge_sql(database, sql, gold_sql, timeout_s) if gold_sql and gold_sql.strip() else None
    )
    return VariantAnswer(
        variant, completion, sql, execution, verdict, seconds=time.monotonic() - started, vote=voted
    )


def greedy_answer(loaded: LoadedModel, prompt: str, max_new_tokens: int) -> str:
    """The model's greedy reply to a chat-rendered prompt."""
    from studio.inference.generate import generate
    from studio.inference.settings import GenerationSettings

    return generate(loaded, [prompt], GenerationSettings(max_new_tokens=max_new_tokens))[0][0]


def voted_answer(
    loaded: LoadedModel,
    prompt: str,
    database: str,
    n: int,
    max_new_tokens: int,
    temperature: float = DEFAULT_VOTE_TEMPERATURE,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> tuple[str, str, Vote]:
    """`n` sampled replies to a chat-rendered prompt, voted on by executing their SQL on
    `database` (mean log-probability breaks ties): the chosen reply, its SQL and the vote."""
    from studio.inference.generate import generate
    from studio.inference.likelihood import completion_likelihoods
    from studio.inference.settings import GenerationSettings
    from studio.inference.voting import vote
    from studio.sql.extract import extract_sql

    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, n=n)
    replies = generate(loaded, [prompt], settings)[0]
    likelihoods = completion_likelihoods(loaded, [prompt], [replies])[0]
    sqls = [extract_sql(reply) for reply in replies]
    voted = vote(database, sqls, [item.mean for item in likelihoods], timeout_s)
    return replies[voted.index], voted.sql, voted


def judge_sql(database: str, sql: str, gold_sql: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """The score category of `sql` against `gold_sql` on `database` (evaluation's rule)."""
    from studio.sql.score import SCORING_MAX_ROWS, ScoreItem, score_chunk

    return score_chunk(
        [ScoreItem("playground", database, gold_sql, sql)], timeout_s, SCORING_MAX_ROWS
    )[0].category


def answer(
    question: str,
    database_ref: str,
    variants: Sequence[Variant],
    evidence: str | None = None,
    gold_sql: str | None = None,
    *,
    pool: ModelPool | None = None,
    schema_style: str = "ddl",
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    vote_n: int = 0,
) -> list[VariantAnswer]:
    """Each variant's answer to `question` on `database_ref`, in the order given (voted among
    `vote_n` samples when it is 2 or more)."""
    chosen = check_variants(variants)
    messages = build_messages_for(question, database_ref, evidence, schema_style)
    pool = pool or default_pool()
    return [
        answer_variant(
            pool, variant, messages, database_ref, gold_sql, max_new_tokens, vote_n=vote_n
        )
        for variant in chosen
    ]
