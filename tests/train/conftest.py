"""Fixtures for the training engine: a workspace with a tiny SFT and preference dataset,
run folders for the tiny Qwen2 model, and one shared SFT run whose adapter DPO starts from."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.data.importers.demo import open_workspace
from studio.data.registry import register_dataset
from studio.train.config import TrainConfig, config_from_mapping
from studio.train.worker import train, write_run_config
from studio.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "You write SQLite queries."
QUESTIONS = [
    (f"How many singers are older than {age}?", f"SELECT count(*) FROM singer WHERE age > {age}")
    for age in range(20, 32)
]
SFT_RUN_STEPS = 6
TINY_RUN = {
    "max_steps": 3,
    "per_device_train_batch_size": 2,
    "cutoff_len": 256,
    "logging_steps": 1,
    "save_steps": 100,
    "learning_rate": 5e-3,
    "lr_scheduler_type": "constant",
}


def register_toy_datasets(ws: Workspace) -> None:
    """`toy_sft` (12 Alpaca rows) and `toy_pairs` (12 preference rows) in the workspace."""
    rows = [
        {"instruction": question, "input": "", "system": SYSTEM, "output": sql}
        for question, sql in QUESTIONS
    ]
    register_dataset(ws, "toy_sft", rows, "sft")
    pairs = [
        {
            "instruction": question,
            "input": "",
            "system": SYSTEM,
            "chosen": sql,
            "rejected": "SELECT name FROM singer",
        }
        for question, sql in QUESTIONS
    ]
    register_dataset(ws, "toy_pairs", pairs, "preference")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def read_summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.fixture
def toy_workspace(workspace: Workspace) -> Workspace:
    register_toy_datasets(workspace)
    return workspace


@pytest.fixture(scope="session")
def tiny_config(tiny_qwen2_dir: Path) -> Callable[..., TrainConfig]:
    """`tiny_config(**keys)`: a validated config for the tiny model (SFT on toy_sft unless
    overridden)."""

    def make(**keys: Any) -> TrainConfig:
        return config_from_mapping(
            {"model_name_or_path": str(tiny_qwen2_dir), "dataset": "toy_sft", **TINY_RUN, **keys}
        )

    return make


def new_run(ws: Workspace, cfg: TrainConfig) -> Path:
    """A run folder holding the config, as `python -m studio train` creates it."""
    run_dir = ws.new_run_dir(cfg.stage)
    write_run_config(run_dir, cfg)
    return run_dir


@pytest.fixture(scope="session")
def sft_run(
    tiny_config: Callable[..., TrainConfig], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A finished SFT run of SFT_RUN_STEPS steps of the tiny model (its adapter is what DPO
    continues from; enough steps that the adapter measurably moves the model to the answers)."""
    ws = open_workspace(tmp_path_factory.mktemp("sft-ws"))
    register_toy_datasets(ws)
    run_dir = new_run(ws, tiny_config(learning_rate=2e-2, max_steps=SFT_RUN_STEPS))
    train(run_dir)
    return run_dir


def train_on_two_ranks(run_dir: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """The training worker on `run_dir` as two ranks of DDP over gloo: accelerate's multi-GPU
    launcher with transformers told to use the CPU, on a free local port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    launch += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    launch += ["--dynamo_backend", "no", "--main_process_port", str(port)]
    launch += ["-m", "studio.train.worker", str(run_dir)]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        launch,
        check=False,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
