"""A run folder and the files in it: the one place that names them.

    run = RunDir(ws.runs_dir / "sft-demo_train-20250101-120000-a1b2c3")
    run.metrics                  # <run>/metrics.jsonl
    run.read_summary()           # summary.json as a dict (None while the run is going)
    run.saved_adapter()          # the LoRA folder a finished training run saved, else None
    run.workspace()              # the Workspace the run belongs to

Every job kind writes `log`, `status.json`, `progress.jsonl` and `metrics.jsonl`; a training
run also holds `config.yaml`, `checkpoint-N/` and `adapter/`; mining and evaluation runs hold
`config.json`, evaluations `predictions.jsonl` and `verdicts.jsonl`; a finished run has
`summary.json`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from studio.fsutil import atomic_write_json

if TYPE_CHECKING:
    from studio.workspace import Workspace

TRAIN_CONFIG = "config.yaml"
SETTINGS_CONFIG = "config.json"
CONFIG_FILES = (TRAIN_CONFIG, SETTINGS_CONFIG)
ADAPTER_DIR = "adapter"
ADAPTER_CONFIG = "adapter_config.json"
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
RUNS_FOLDER = "runs"


def checkpoint_step(folder: Path) -> int | None:
    """N for a folder named `checkpoint-N`, else None."""
    match = CHECKPOINT_NAME.match(folder.name)
    return int(match.group(1)) if match else None


def adapter_label(adapter: str | Path) -> str:
    """A short name for an adapter folder: its run's name for a run's `adapter/`, else its own."""
    path = Path(adapter)
    return path.parent.name if path.name == ADAPTER_DIR else path.name


def run_of(adapter: str | Path) -> Path | None:
    """The studio training run folder that holds `adapter` (its `adapter/` or a `checkpoint-N/`:
    the parent, with config.yaml, in a workspace's runs folder), or None."""
    run_dir = Path(adapter).resolve().parent
    if (run_dir / TRAIN_CONFIG).is_file() and run_dir.parent.name == RUNS_FOLDER:
        return run_dir
    return None


def _read_json_object(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class RunDir:
    """The folder `path` of one run (training, mining or evaluation) and its files."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def name(self) -> str:
        """The run's name (its folder's name; mining uses it as the run id)."""
        return self.path.name

    @property
    def train_config(self) -> Path:
        """`config.yaml`: a training run's validated config (LLaMA-Factory-style YAML)."""
        return self.path / TRAIN_CONFIG

    @property
    def settings_config(self) -> Path:
        """`config.json`: a mining or evaluation run's settings."""
        return self.path / SETTINGS_CONFIG

    @property
    def config(self) -> Path | None:
        """The run's config file (config.yaml or config.json), None when it has none."""
        for name in CONFIG_FILES:
            if (self.path / name).is_file():
                return self.path / name
        return None

    def read_config(self) -> dict[str, Any] | None:
        """The run's config as a mapping for display; None when absent or unreadable (each worker
        validates its own config strictly)."""
        path = self.config
        if path is None:
            return None
        if path.name == SETTINGS_CONFIG:
            return _read_json_object(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        return data if isinstance(data, dict) else None

    @property
    def log(self) -> Path:
        """`log`: every job's output in this folder, appended (see docs/JOBS.md)."""
        return self.path / "log"

    @property
    def status(self) -> Path:
        """`status.json`: how the worker ended (studio.jobs.runtime)."""
        return self.path / "status.json"

    @property
    def metrics(self) -> Path:
        """`metrics.jsonl`: one progress or training record per line."""
        return self.path / "metrics.jsonl"

    @property
    def progress(self) -> Path:
        """`progress.jsonl`: the worker's phase and count, one line per update
        (studio.jobs.runtime.ProgressWriter)."""
        return self.path / "progress.jsonl"

    @property
    def summary(self) -> Path:
        """`summary.json`: the outcome, written when the run ends."""
        return self.path / "summary.json"

    @property
    def predictions(self) -> Path:
        """`predictions.jsonl`: an evaluation's generated SQL, one question per line."""
        return self.path / "predictions.jsonl"

    @property
    def verdicts(self) -> Path:
        """`verdicts.jsonl`: an evaluation's scored predictions."""
        return self.path / "verdicts.jsonl"

    @property
    def generated_predictions(self) -> Path:
        """`generated_predictions.jsonl`: an evaluation's answers in LLaMA-Factory's shape
        (prompt, predict, label per line)."""
        return self.path / "generated_predictions.jsonl"

    @property
    def tensorboard(self) -> Path:
        """`tensorboard/`: a training run's TensorBoard event files (`report_to: tensorboard`)."""
        return self.path / "tensorboard"

    @property
    def adapter_dir(self) -> Path:
        """`adapter/`: where training saves its LoRA adapter unless `output_dir` says otherwise."""
        return self.path / ADAPTER_DIR

    def checkpoint(self, step: int) -> Path:
        """`checkpoint-<step>/`."""
        return self.path / f"checkpoint-{step}"

    def checkpoints(self) -> list[Path]:
        """The run's `checkpoint-N` folders, highest N first."""
        found = [
            path
            for path in self.path.iterdir()
            if path.is_dir() and checkpoint_step(path) is not None
        ]
        return sorted(found, key=lambda path: checkpoint_step(path) or 0, reverse=True)

    def read_summary(self) -> dict[str, Any] | None:
        """summary.json, or None when absent or unreadable (a run still going)."""
        return _read_json_object(self.summary)

    def write_summary(self, data: dict[str, Any]) -> None:
        """Write summary.json atomically."""
        atomic_write_json(self.summary, data)

    def saved_adapter(self) -> Path | None:
        """The adapter folder the run saved (the one summary.json names, else `adapter/`), or None
        when it holds no adapter_config.json."""
        named = (self.read_summary() or {}).get("adapter")
        for folder in (Path(named) if isinstance(named, str) else None, self.adapter_dir):
            if folder is not None and (folder / ADAPTER_CONFIG).is_file():
                return folder
        return None

    def workspace(self) -> Workspace:
        """The workspace the run belongs to: the one its config.json names (an evaluation may
        live outside the workspace), else the one holding `runs/<name>/`."""
        from studio.workspace import Workspace

        root = (_read_json_object(self.settings_config) or {}).get("workspace")
        return Workspace.open(root if isinstance(root, str) else self.path.resolve().parents[1])
