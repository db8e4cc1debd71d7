"""What the forms offer to pick instead of typed paths: models, and adapters labelled with what
made them (the run, its stage and datasets, its last training loss, the newest execution
accuracy measured with it).

    models = model_choices(ws)               # the built-in model, then the bases runs trained
    for choice in adapter_choices(ws):       # newest first (studio.jobs.runs.list_adapters)
        print(choice.label, choice.path)
    newest_sft = first_of_stage(adapter_choices(ws), "sft")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.jobs.rundir import RunDir, adapter_label
from studio.jobs.runs import evaluation_folders, list_adapters, train_runs
from studio.models.references import DEFAULT_MODEL

if TYPE_CHECKING:
    from studio.workspace import Workspace


@dataclass(frozen=True)
class AdapterChoice:
    """One adapter folder and what is known of it (empty fields: unknown, e.g. copied in)."""

    path: str
    run: str
    stage: str = ""
    datasets: tuple[str, ...] = ()
    loss: float | None = None
    ex: float | None = None
    ex_dataset: str = ""

    @property
    def label(self) -> str:
        """`run · stage · datasets · loss L · EX X% on D`, the unknown parts left out."""
        parts = [self.run, self.stage, ", ".join(self.datasets)]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        if self.ex is not None:
            parts.append(f"EX {self.ex:g}% on {self.ex_dataset}")
        return " · ".join(part for part in parts if part)


def _accuracy_by_adapter(ws: Workspace) -> dict[str, tuple[float, str]]:
    """adapter folder -> (EX, dataset) of the newest finished evaluation of a stack ending with
    it."""
    found: dict[str, tuple[float, str]] = {}
    for folder in evaluation_folders(ws):
        summary = RunDir(folder).read_summary() or {}
        adapters = summary.get("adapters") or []
        if adapters and isinstance(summary.get("ex"), (int, float)):
            key = str(Path(adapters[-1]).resolve())
            found.setdefault(key, (summary["ex"], str(summary.get("dataset", ""))))
    return found


def _loss(summary: dict[str, Any]) -> float | None:
    loss = (summary.get("final_metrics") or {}).get("loss")
    return loss if isinstance(loss, (int, float)) else None


def adapter_choices(ws: Workspace) -> list[AdapterChoice]:
    """Every adapter `list_adapters` offers, newest first, labelled."""
    runs = {}
    for run in train_runs(ws):
        adapter = RunDir(run.run_dir).saved_adapter()
        if adapter is not None:
            runs[str(adapter)] = run
    accuracy = _accuracy_by_adapter(ws)
    choices = []
    for path in list_adapters(ws):
        ex, ex_dataset = accuracy.get(str(Path(path).resolve()), (None, ""))
        run = runs.get(path)
        if run is None:
            choices.append(AdapterChoice(path, adapter_label(path), ex=ex, ex_dataset=ex_dataset))
            continue
        config = run.config
        choices.append(
            AdapterChoice(
                path,
                run.name,
                str(config.get("stage", "")),
                tuple(config.get("dataset") or ()),
                _loss(run.summary or {}),
                ex,
                ex_dataset,
            )
        )
    return choices


def first_of_stage(choices: list[AdapterChoice], stage: str) -> str | None:
    """The path of the first (newest) choice a `stage` run saved, None when there is none."""
    return next((choice.path for choice in choices if choice.stage == stage), None)


def model_choices(ws: Workspace) -> list[str]:
    """The built-in model, then the base models of training runs, newest run first."""
    bases = (run.config.get("model_name_or_path") for run in train_runs(ws))
    return list(dict.fromkeys([DEFAULT_MODEL, *(base for base in bases if isinstance(base, str))]))
