"""The system prompt a model was trained with, read from its adapters' training runs.

A studio run folder (`<workspace>/runs/<id>/`) holds the adapter and the run's config.yaml;
the config names the registered datasets, and each row's system message is the one
`studio.data.prompts.build_messages` gave it in training. The stack's last adapter with a run
decides (a DPO adapter on top of an SFT one); its datasets' most frequent system message is the
answer. An empty string means the rows had no system message (the chat template's default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from studio.errors import StudioError
from studio.jobs.rundir import RunDir, run_of


def run_system_prompt(run_dir: Path) -> str:
    """The most frequent system message of the rows the run in `run_dir` trained on."""
    from studio.data.prompts import build_messages
    from studio.data.registry import load_examples
    from studio.train.config import load_config
    from studio.train.dataset import dataset_source, template_system

    folder = RunDir(run_dir)
    cfg = load_config(folder.train_config)
    workspace = dataset_source(folder.workspace(), cfg)
    default_system = template_system(cfg.template)
    counts: Counter[str] = Counter()
    for name in cfg.dataset:
        try:
            examples = load_examples(workspace, name)[: cfg.max_samples]
        except StudioError as error:
            raise StudioError(
                f"run {run_dir.name} trained on dataset '{name}', which cannot be read now "
                f"({error}); give the system prompt yourself (--system TEXT)"
            ) from None
        for example in examples:
            first = build_messages(example, default_system=default_system)[0]
            counts[first["content"] if first["role"] == "system" else ""] += 1
    if not counts:
        raise StudioError(
            f"the datasets of run {run_dir.name} hold no rows now, so its system prompt is "
            "unknown; give it yourself (--system TEXT)"
        )
    return counts.most_common(1)[0][0]


def trained_system_prompt(adapters: Sequence[str | Path]) -> str | None:
    """The system prompt of the stack's last adapter that comes from a studio run, or None when
    no adapter does."""
    for adapter in reversed(adapters):
        run_dir = run_of(adapter)
        if run_dir is not None:
            return run_system_prompt(run_dir)
    return None
