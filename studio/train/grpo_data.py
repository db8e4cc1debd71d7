"""GRPO's questions: the training part, the held-out part and what the starting adapter saw.

`val_size` splits all of the config's questions the way every stage splits its rows
(studio.train.dataset.build_datasets): the same datasets, `max_samples` and `seed` hold out the
same questions in SFT and in GRPO. `grpo_skip_settled` then leaves settled questions out of the
training part only, so the curriculum does not move the split. Held-out questions that the
starting adapter trained on measure how close the policy stays to that adapter rather than how it
answers new questions; `held_out_seen` counts them, so the run can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.jobs.rundir import RunDir, run_of
from studio.train.config import TrainConfig, load_config
from studio.train.curriculum import settled_questions, skip_settled
from studio.train.dataset import build_datasets, training_records
from studio.workspace import Workspace

if TYPE_CHECKING:
    from datasets import Dataset


def grpo_datasets(
    ws: Workspace, cfg: TrainConfig
) -> tuple[Dataset, Dataset | None, dict[str, Any] | None]:
    """(training, held-out, curriculum counts): `val_size` splits all of the config's questions,
    then `grpo_skip_settled` leaves the settled ones out of the training part."""
    from datasets import Dataset

    train_dataset, eval_dataset = build_datasets(ws, cfg, training_records(ws, cfg))
    if cfg.grpo_skip_settled is None:
        return train_dataset, eval_dataset, None
    kept, counts = skip_settled(
        train_dataset.to_list(), settled_questions(ws, cfg.grpo_skip_settled)
    )
    if not kept:
        raise StudioError(
            f"config key 'grpo_skip_settled': mining run {cfg.grpo_skip_settled} finds every "
            f"training question of {', '.join(cfg.dataset)} settled ({counts}); nothing is left "
            "to train on; remove the key"
        )
    print(
        f"grpo_skip_settled: kept {counts['kept']} questions, left out "
        f"{counts['always_right']} always right and {counts['always_wrong']} always wrong "
        f"in mining run {cfg.grpo_skip_settled}",
        flush=True,
    )
    return Dataset.from_list(kept), eval_dataset, {"mining_run": cfg.grpo_skip_settled, **counts}


def _user_prompts(records: Iterable[dict[str, Any]]) -> set[str]:
    return {record["prompt"][-1]["content"].strip() for record in records}


def trained_prompts(run_dir: Path) -> set[str] | None:
    """The user prompts of the rows the training run in `run_dir` trained on (its own held-out
    rows excluded); None when its datasets cannot be read now."""
    run = RunDir(run_dir)
    try:
        trained, _ = build_datasets(run.workspace(), load_config(run.train_config))
    except StudioError:
        return None
    return _user_prompts(trained)


def held_out_seen(adapters: Sequence[str], held_out: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """How many held-out questions the starting adapters' runs trained on: `questions`,
    `seen_in_training` (None when no adapter comes from a studio run whose data is readable) and
    the runs checked."""
    prompts = _user_prompts(held_out)
    seen: set[str] = set()
    runs = []
    for adapter in adapters:
        run_dir = run_of(adapter)
        trained = None if run_dir is None else trained_prompts(run_dir)
        if run_dir is not None and trained is not None:
            seen |= prompts & trained
            runs.append(run_dir.name)
    return {
        "questions": len(prompts),
        "seen_in_training": len(seen) if runs else None,
        "adapter_runs": runs,
    }


def seen_warning(seen: dict[str, Any], cfg: TrainConfig) -> str | None:
    """The warning for held-out questions the starting adapter trained on, else None."""
    if not seen["seen_in_training"]:
        return None
    return (
        f"{seen['seen_in_training']} of the {seen['questions']} held-out questions were "
        f"training questions of {', '.join(seen['adapter_runs'])}: their greedy accuracy "
        "rewards staying close to that adapter, so choosing a checkpoint on them favours the "
        "states nearest it; hold the same questions out there: train it on the same datasets with "
        f"the same max_samples, val_size: {cfg.val_size:g} and seed: {cfg.seed}"
    )
