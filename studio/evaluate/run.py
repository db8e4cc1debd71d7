"""The evaluation pipeline: dataset questions -> chat prompts -> batched greedy generation ->
extracted SQL -> parallel execution next to gold -> verdicts and a summary in a run folder.

Predictions are appended to predictions.jsonl as each batch finishes, so an interrupted run
keeps what it generated; running again into the same folder generates only the questions
not yet predicted, then scores all of them.
"""

from __future__ import annotations

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
from studio.fsutil import atomic_write_text
from studio.inference.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_ENGINE,
    DEFAULT_MAX_NEW_TOKENS,
    ENGINES,
)
from studio.jobs.rundir import RunDir
from studio.models.references import DEFAULT_MODEL

if TYPE_CHECKING:
    from studio.data.registry import Example
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
    progress: Progress | None = None,
    bars: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Evaluate `model` (+ LoRA `adapters`) on `dataset`; returns the summary (`ex` in %).

    `out_dir` defaults to a new `runs/eval-*` folder; an existing run folder of the same
    dataset, model and adapters is continued. `progress(record)` receives
    {"phase": "loading"|"generation"|"scoring", "done", "total", ...} as work goes on (records
    marked "partial" count answers within a batch, before they are saved); `bars` shows
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
    stats = _generate(config, pending, predictions_path, len(examples), progress, bars, should_stop)
    if stats.stopped:
        return {
            "stopped": True,
            "out_dir": str(run_dir),
            "total": len(examples),
            "predicted": len(examples) - len(pending) + stats.generated,
        }
    done = read_run_predictions(predictions_path)
    sql_by_index = {e.index: str(done[e.index]["sql"]) for e in examples}
    timings = {
        "resumed": len(examples) - len(pending),
        "generated": stats.generated,
        "load_s": round(stats.load_s, 3),
        "generation_s": round(stats.generation_s, 3),
        "questions_per_s": stats.questions_per_s,
    }
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


def _generate(
    config: EvalConfig,
    pending: Sequence[Example],
    predictions_path: Path,
    total: int,
    progress: Progress | None,
    bars: bool,
    should_stop: Callable[[], bool] | None,
) -> GenerationStats:
    """Generate SQL for `pending`, appending each finished batch to predictions.jsonl."""
    stats = GenerationStats()
    if not pending:
        return stats
    from studio.data.prompts import build_messages, render_chat
    from studio.inference.generate import generate
    from studio.inference.settings import GenerationSettings
    from studio.models.loading import load_model
    from studio.sql.extract import extract_sql, sql_settled

    already = total - len(pending)
    if progress is not None:
        progress({"phase": "loading", "done": already, "total": total})
    started = time.monotonic()
    loaded = load_model(config.model, config.adapters, merge=config.merge_adapters)
    stats.load_s = time.monotonic() - started
    prompts = [render_chat(loaded.tokenizer, build_messages(example)) for example in pending]
    settings = GenerationSettings(
        max_new_tokens=config.max_new_tokens, batch_size=config.batch_size, engine=config.engine
    )
    bar = _bar(len(pending), "generating") if bars else None
    started = time.monotonic()
    if progress is not None:
        progress({"phase": "generation", "done": already, "total": total, "partial": True})

    def on_answered(count: int) -> None:
        if progress is not None:
            progress(
                {"phase": "generation", "done": already + count, "total": total, "partial": True}
            )

    def on_batch(indices: list[int], completions: list[list[str]]) -> None:
        append_predictions(
            predictions_path,
            [
                prediction_record(pending[i], answers[0], extract_sql(answers[0]))
                for i, answers in zip(indices, completions, strict=True)
            ],
        )
        stats.generated += len(indices)
        stats.generation_s = time.monotonic() - started
        if bar is not None:
            bar.update(len(indices))
        if progress is not None:
            progress(
                {
                    "phase": "generation",
                    "done": already + stats.generated,
                    "total": total,
                    "questions_per_s": stats.questions_per_s,
                    "elapsed_s": round(stats.generation_s, 3),
                }
            )
        if should_stop is not None and should_stop():
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
) -> dict[str, Any]:
    """Score, then write verdicts.jsonl and summary.json; returns the summary."""
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
    folder = RunDir(run_dir)
    write_verdicts(folder.verdicts, rows)
    write_generated_predictions(
        folder.generated_predictions, examples, read_run_predictions(folder.predictions)
    )
    summary = {
        **header,
        "rule": rule,
        **summarize_verdicts(rows),
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
