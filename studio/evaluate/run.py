"""The evaluation pipeline: dataset questions -> chat prompts -> batched greedy generation ->
extracted SQL -> parallel execution next to gold -> verdicts and a summary in a run folder.
With `vote=N`, each question also gets N sampled answers and an execution-guided vote among
them (studio.evaluate.voted); EX greedy and voted are reported side by side.

Predictions (and samples) are appended to predictions.jsonl (samples.jsonl) as each batch
finishes, so an interrupted run keeps what it generated; running again into the same folder
generates only the questions not yet answered, then scores all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.evaluate.predictions import (
    append_predictions,
    prediction_record,
    read_predictions_file,
    read_run_predictions,
    write_generated_predictions,
)
from studio.evaluate.report import summarize_verdicts
from studio.evaluate.rundir import prepare_run_dir
from studio.evaluate.scoring import (
    RULES,
    database_refs,
    score_examples,
    write_verdicts,
)
from studio.evaluate.voted import (
    SAMPLES_FILE,
    read_samples,
    sample_record,
    score_votes,
    vote_examples,
    vote_summary,
)
from studio.fsutil import atomic_write_text
from studio.inference.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_ENGINE,
    DEFAULT_MAX_NEW_TOKENS,
    ENGINES,
)
from studio.inference.voting import DEFAULT_VOTE_TEMPERATURE
from studio.jobs.rundir import RunDir
from studio.models.references import DEFAULT_MODEL

if TYPE_CHECKING:
    from studio.data.registry import Example
    from studio.inference.settings import GenerationSettings
    from studio.inference.voting import Vote
    from studio.models.loading import LoadedModel
    from studio.workspace import Workspace

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how; stored as the run's config.json (plus mode and workspace)."""

    dataset: str
    model: str = DEFAULT_MODEL
    adapters: tuple[str, ...] = ()
    limit: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    workers: int | None = None
    merge_adapters: bool = True
    timeout_s: float = 30.0
    rule: str = "auto"
    engine: str = DEFAULT_ENGINE
    vote: int = 0
    vote_temperature: float = DEFAULT_VOTE_TEMPERATURE

    def __post_init__(self) -> None:
        checks = [
            (self.limit is None or self.limit >= 1, f"limit must be at least 1, not {self.limit}"),
            (self.batch_size >= 1, f"batch_size must be at least 1, not {self.batch_size}"),
            (
                self.max_new_tokens >= 1,
                f"max_new_tokens must be at least 1, not {self.max_new_tokens}",
            ),
            (
                self.workers is None or self.workers >= 1,
                f"workers must be at least 1, not {self.workers}",
            ),
            (self.timeout_s > 0, f"timeout_s must be positive, not {self.timeout_s}"),
            (self.rule in RULES, f"rule must be one of {', '.join(RULES)}, not {self.rule!r}"),
            (
                self.engine in ENGINES,
                f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}",
            ),
            (
                self.vote == 0 or self.vote >= 2,
                f"vote must be 0 (greedy only) or at least 2 samples, not {self.vote}",
            ),
            (
                self.vote_temperature > 0,
                f"vote_temperature must be positive, not {self.vote_temperature}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise StudioError(f"evaluation settings: {message}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["adapters"] = list(self.adapters)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> EvalConfig:
        """The config from a config.json mapping (unknown keys are an error naming `source`)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"mode", "workspace"})
        if unknown:
            raise StudioError(
                f"{source}: unknown evaluation setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        if "dataset" not in data:
            raise StudioError(f"{source}: missing 'dataset'")
        values = {key: value for key, value in data.items() if key in known}
        values["adapters"] = tuple(values.get("adapters") or ())
        return cls(**values)


@dataclass
class GenerationStats:
    """One generation pass: questions answered, seconds spent, whether it was stopped."""

    generated: int = 0
    load_s: float = 0.0
    generation_s: float = 0.0
    stopped: bool = False

    @property
    def questions_per_s(self) -> float:
        return round(self.generated / self.generation_s, 3) if self.generation_s > 0 else 0.0


class _Stop(Exception):
    """Raised from the batch callback to end generation early (cancellation)."""


def select_examples(ws: Workspace, dataset: str, limit: int | None) -> list[Example]:
    """The dataset's questions, the first `limit` rows when given."""
    from studio.data.registry import load_examples

    examples = load_examples(ws, dataset)
    if not examples:
        raise StudioError(f"dataset '{dataset}' has no rows to evaluate")
    return examples[:limit] if limit else examples


def evaluate(
    ws: Workspace,
    dataset: str,
    model: str = DEFAULT_MODEL,
    adapters: Sequence[str | Path] = (),
    limit: int | None = None,
    out_dir: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    workers: int | None = None,
    merge_adapters: bool = True,
    timeout_s: float = 30.0,
    rule: str = "auto",
    engine: str = DEFAULT_ENGINE,
    vote: int = 0,
    vote_temperature: float = DEFAULT_VOTE_TEMPERATURE,
    progress: Progress | None = None,
    bars: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Evaluate `model` (+ LoRA `adapters`) on `dataset`; returns the summary (`ex` in %, and
    with `vote=N` a `vote` entry: EX of the execution-guided vote among N samples).

    `out_dir` defaults to a new `runs/eval-*` folder; an existing run folder of the same
    dataset, model and adapters is continued. `progress(record)` receives
    {"phase": "loading"|"generation"|"sampling"|"scoring", "done", "total", ...} as work goes on
    (records marked "partial" count answers within a batch, before they are saved); `bars` shows
    tqdm bars; `should_stop()` is polled after each batch: when true, generation stops and
    {"stopped": True, ...} comes back (the predictions so far stay in the folder).
    """
    config = EvalConfig(
        dataset=dataset,
        model=model,
        adapters=tuple(str(Path(a).expanduser().resolve()) for a in adapters),
        limit=limit,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        workers=workers,
        merge_adapters=merge_adapters,
        timeout_s=timeout_s,
        rule=rule,
        engine=engine,
        vote=vote,
        vote_temperature=vote_temperature,
    )
    return run_evaluation(
        ws, config, out_dir, progress=progress, bars=bars, should_stop=should_stop
    )


def run_evaluation(
    ws: Workspace,
    config: EvalConfig,
    out_dir: str | Path | None = None,
    *,
    progress: Progress | None = None,
    bars: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """`evaluate` for a ready EvalConfig (the job worker's entry)."""
    examples = select_examples(ws, config.dataset, config.limit)
    database_refs(ws, config.dataset, examples)  # fail before generating, not after
    run_dir = prepare_run_dir(ws, out_dir, {"mode": "generate", **config.to_dict()})
    predictions_path = RunDir(run_dir).predictions
    done = _checked_predictions(predictions_path, examples)
    pending = [e for e in examples if e.index not in done]
    model = _Model(config)
    passes = _Passes(len(examples), progress, bars, should_stop)
    stats = passes.run(
        model, pending, _greedy_settings(config), "generation", _greedy_store(predictions_path)
    )
    stopped = {"stopped": True, "out_dir": str(run_dir), "total": len(examples)}
    if stats.stopped:
        return {**stopped, "predicted": len(examples) - len(pending) + stats.generated}
    samples_path = run_dir / SAMPLES_FILE
    sampling = GenerationStats()
    likelihood_s = [0.0]
    if config.vote:
        sampled = read_samples(samples_path, config.vote, config.vote_temperature)
        unsampled = [e for e in examples if e.index not in sampled]
        store = _sample_store(samples_path, config.vote_temperature, likelihood_s)
        sampling = passes.run(model, unsampled, _vote_settings(config), "sampling", store)
        if sampling.stopped:
            return {
                **stopped,
                "predicted": len(examples),
                "sampled": len(examples) - len(unsampled) + sampling.generated,
            }
    done = read_run_predictions(predictions_path)
    sql_by_index = {e.index: str(done[e.index]["sql"]) for e in examples}
    timings = {
        "resumed": len(examples) - len(pending),
        "generated": stats.generated,
        "load_s": round(model.load_s, 3),
        "generation_s": round(stats.generation_s, 3),
        "questions_per_s": stats.questions_per_s,
    }
    votes = None
    if config.vote:
        started = time.monotonic()
        votes = vote_examples(
            ws,
            config.dataset,
            examples,
            read_samples(samples_path, config.vote, config.vote_temperature),
            workers=config.workers or os.cpu_count() or 1,
            timeout_s=config.timeout_s,
            progress=progress,
        )
        timings.update(
            {
                "sampled": sampling.generated,
                "sampling_s": round(sampling.generation_s, 3),
                "sampled_questions_per_s": sampling.questions_per_s,
                "likelihood_s": round(likelihood_s[0], 3),
                "voting_s": round(time.monotonic() - started, 3),
            }
        )
    header = {
        "mode": "generate",
        "dataset": config.dataset,
        "model": config.model,
        "adapters": list(config.adapters),
        "merge_adapters": config.merge_adapters,
        "max_new_tokens": config.max_new_tokens,
        "batch_size": config.batch_size,
        "engine": config.engine,
    }
    return _score_and_report(
        ws,
        config.dataset,
        examples,
        sql_by_index,
        run_dir,
        header,
        timings,
        workers=config.workers,
        timeout_s=config.timeout_s,
        rule=config.rule,
        progress=progress,
        bars=bars,
        votes=votes,
        vote_settings=(config.vote, config.vote_temperature),
    )


def score_predictions(
    ws: Workspace,
    dataset: str,
    predictions_file: str | Path,
    out_dir: str | Path | None = None,
    workers: int | None = None,
    timeout_s: float = 30.0,
    rule: str = "auto",
    progress: Progress | None = None,
    bars: bool = True,
) -> dict[str, Any]:
    """Score a JSONL predictions file (`question_id` or `index`, and `sql` per line) against
    `dataset`'s gold SQL: only the questions it predicts are scored (`dataset_questions` in
    the summary says how many the dataset has). Results go into `out_dir` (default: a new
    `runs/eval-*` folder); returns the summary (`ex` in %)."""
    from studio.data.registry import load_examples

    path = Path(predictions_file).expanduser().resolve()
    all_examples = load_examples(ws, dataset)
    sql_by_index = read_predictions_file(path, all_examples)
    examples = [all_examples[i] for i in sorted(sql_by_index)]
    database_refs(ws, dataset, examples)
    run_dir = prepare_run_dir(
        ws,
        out_dir,
        {
            "mode": "score",
            "dataset": dataset,
            "predictions_file": str(path),
            "workers": workers,
            "timeout_s": timeout_s,
            "rule": rule,
        },
    )
    atomic_write_text(RunDir(run_dir).predictions, "")
    append_predictions(
        RunDir(run_dir).predictions,
        (prediction_record(e, None, sql_by_index[e.index]) for e in examples),
    )
    header = {
        "mode": "score",
        "dataset": dataset,
        "model": None,
        "adapters": [],
        "predictions_file": str(path),
        "dataset_questions": len(all_examples),
    }
    return _score_and_report(
        ws,
        dataset,
        examples,
        sql_by_index,
        run_dir,
        header,
        {},
        workers=workers,
        timeout_s=timeout_s,
        rule=rule,
        progress=progress,
        bars=bars,
    )


def _checked_predictions(path: Path, examples: Sequence[Example]) -> dict[int, dict[str, Any]]:
    """Predictions already in the run folder; a StudioError when they are of other questions."""
    done = read_run_predictions(path)
    by_index = {e.index: e for e in examples}
    for index, record in done.items():
        example = by_index.get(index)
        if example is not None and (
            record.get("db_id") != example.db_id or record.get("question_id") != example.question_id
        ):
            raise StudioError(
                f"{path}: the prediction for row {index} is for question "
                f"{record.get('question_id')!r} on {record.get('db_id')!r}, but the dataset's "
                f"row {index} is {example.question_id!r} on {example.db_id!r}; the dataset "
                "changed since this run started, so evaluate into a new --out folder"
            )
    return done


class _Model:
    """The evaluated model, loaded on first use (a run that has every answer loads nothing)."""

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        self.load_s = 0.0
        self._loaded: LoadedModel | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def get(self) -> LoadedModel:
        if self._loaded is None:
            from studio.models.loading import load_model

            started = time.monotonic()
            self._loaded = load_model(
                self.config.model, self.config.adapters, merge=self.config.merge_adapters
            )
            self.load_s = time.monotonic() - started
        return self._loaded


# store(loaded, examples, chat prompts, completions) saves one finished batch
Store = Callable[["LoadedModel", list["Example"], list[str], list[list[str]]], None]


def _greedy_settings(config: EvalConfig) -> GenerationSettings:
    from studio.inference.settings import GenerationSettings

    return GenerationSettings(
        max_new_tokens=config.max_new_tokens, batch_size=config.batch_size, engine=config.engine
    )


def _vote_settings(config: EvalConfig) -> GenerationSettings:
    from studio.inference.settings import GenerationSettings

    return GenerationSettings(
        max_new_tokens=config.max_new_tokens,
        batch_size=config.batch_size,
        engine=config.engine,
        temperature=config.vote_temperature,
        n=config.vote,
    )


def _greedy_store(path: Path) -> Store:
    """Append each greedy answer and its SQL to predictions.jsonl."""
    from studio.sql.extract import extract_sql

    def store(_loaded, examples, _prompts, completions) -> None:
        append_predictions(
            path,
            [
                prediction_record(example, answers[0], extract_sql(answers[0]))
                for example, answers in zip(examples, completions, strict=True)
            ],
        )

    return store


def _sample_store(path: Path, temperature: float, likelihood_s: list[float]) -> Store:
    """Score each sampled answer's likelihood, then append the samples to samples.jsonl;
    `likelihood_s[0]` adds up the seconds spent scoring."""
    from studio.inference.likelihood import completion_likelihoods
    from studio.sql.extract import extract_sql

    def store(loaded, examples, prompts, completions) -> None:
        started = time.monotonic()
        likelihoods = completion_likelihoods(loaded, prompts, completions)
        likelihood_s[0] += time.monotonic() - started
        append_predictions(
            path,
            [
                sample_record(
                    example, answers, [extract_sql(a) for a in answers], scores, temperature
                )
                for example, answers, scores in zip(examples, completions, likelihoods, strict=True)
            ],
        )

    return store


@dataclass
class _Passes:
    """Generation passes over one run's questions, sharing its progress and cancellation."""

    total: int
    progress: Progress | None
    bars: bool
    should_stop: Callable[[], bool] | None

    def run(
        self,
        model: _Model,
        pending: Sequence[Example],
        settings: GenerationSettings,
        phase: str,
        store: Store,
    ) -> GenerationStats:
        """Answer `pending` with `settings`, handing each finished batch to `store`."""
        stats = GenerationStats()
        if not pending:
            return stats
        from studio.data.prompts import build_messages, render_chat
        from studio.inference.generate import generate
        from studio.sql.extract import sql_settled

        already = self.total - len(pending)
        if self.progress is not None and not model.loaded:
            self.progress({"phase": "loading", "done": already, "total": self.total})
        loaded = model.get()
        prompts = [render_chat(loaded.tokenizer, build_messages(example)) for example in pending]
        bar = _bar(len(pending), phase) if self.bars else None
        started = time.monotonic()
        if self.progress is not None:
            self.progress({"phase": phase, "done": already, "total": self.total, "partial": True})

        def on_answered(count: int) -> None:
            if self.progress is not None:
                self.progress(
                    {"phase": phase, "done": already + count, "total": self.total, "partial": True}
                )

        def on_batch(indices: list[int], completions: list[list[str]]) -> None:
            store(loaded, [pending[i] for i in indices], [prompts[i] for i in indices], completions)
            stats.generated += len(indices)
            stats.generation_s = time.monotonic() - started
            if bar is not None:
                bar.update(len(indices))
            if self.progress is not None:
                self.progress(
                    {
                        "phase": phase,
                        "done": already + stats.generated,
                        "total": self.total,
                        "questions_per_s": stats.questions_per_s,
                        "elapsed_s": round(stats.generation_s, 3),
                    }
                )
            if self.should_stop is not None and self.should_stop():
                raise _Stop

        try:
            generate(
                loaded,
                prompts,
                settings,
                on_batch=on_batch,
                settled=sql_settled,
                on_answered=on_answered,
            )
        except _Stop:
            stats.stopped = True
        finally:
            if bar is not None:
                bar.close()
        stats.generation_s = time.monotonic() - started
        return stats


def _bar(total: int, description: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="q", smoothing=0.1)


def _score_and_report(
    ws: Workspace,
    dataset: str,
    examples: Sequence[Example],
    sql_by_index: dict[int, str],
    run_dir: Path,
    header: dict[str, Any],
    timings: dict[str, Any],
    *,
    workers: int | None,
    timeout_s: float,
    rule: str,
    progress: Progress | None,
    bars: bool,
    votes: dict[int, Vote] | None = None,
    vote_settings: tuple[int, float] = (0, DEFAULT_VOTE_TEMPERATURE),
) -> dict[str, Any]:
    """Score (the voted SQL too, given `votes`), then write verdicts.jsonl and summary.json;
    returns the summary."""
    started = time.monotonic()
    rows = score_examples(
        ws,
        dataset,
        examples,
        sql_by_index,
        workers=workers,
        timeout_s=timeout_s,
        rule=rule,
        bars=bars,
        progress=progress,
    )
    scoring_s = time.monotonic() - started
    voting: dict[str, Any] = {}
    if votes is not None:
        voted_rows = score_votes(
            ws,
            dataset,
            examples,
            rows,
            votes,
            workers=workers,
            timeout_s=timeout_s,
            rule=rule,
            progress=progress,
            bars=bars,
        )
        voting = {"vote": vote_summary(rows, voted_rows, votes, *vote_settings)}
    folder = RunDir(run_dir)
    write_verdicts(folder.verdicts, rows)
    write_generated_predictions(
        folder.generated_predictions, examples, read_run_predictions(folder.predictions)
    )
    summary = {
        **header,
        "rule": rule,
        **summarize_verdicts(rows),
        **voting,
        "timings": {
            **timings,
            "scoring_s": round(scoring_s, 3),
            "scored_per_s": round(len(rows) / scoring_s, 3) if scoring_s > 0 else 0.0,
        },
        "out_dir": str(run_dir),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    RunDir(run_dir).write_summary(summary)
    return summary
