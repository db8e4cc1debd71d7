"""Fixtures for pair mining: demo workspaces, one tiny-model mining run shared by copy, and
helpers that run the CLI and read the store directly."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.data.importers.demo import open_workspace
from studio.pairs.config import MiningConfig, write_config
from studio.pairs.mine import mine
from studio.pairs.store import reading
from studio.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_LIMIT = 4


def demo_workspace(root: Path) -> Workspace:
    """A fresh workspace: Workspace.open registers the demo datasets (demo_train, demo_test)."""
    return open_workspace(root)


def tiny_mining_config(tiny_dir: Path, **keys: object) -> MiningConfig:
    """Settings for the tiny random model: short garbage answers, so every candidate is an error."""
    settings = {
        "model": str(tiny_dir),
        "dataset": "demo_train",
        "n": 2,
        "limit": TINY_LIMIT,
        "batch_size": 2,
        "max_new_tokens": 12,
        **keys,
    }
    return MiningConfig(**settings)


def store_rows(ws: Workspace, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    """Rows of a read query on studio.db (the test's own view of the store)."""
    with reading(ws) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def demo_ws(tmp_path: Path) -> Workspace:
    return demo_workspace(tmp_path / "workspace")


@pytest.fixture(scope="session")
def mined_template(
    tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A demo workspace holding one finished gold-strategy run of the tiny model (root, run
    name)."""
    ws = demo_workspace(tmp_path_factory.mktemp("mined") / "workspace")
    run_dir = ws.new_run_dir("pairs")
    config = tiny_mining_config(tiny_qwen2_dir)
    write_config(run_dir, config)
    mine(ws, run_dir, config)
    return ws.root, run_dir.name


@pytest.fixture
def mined(mined_template: tuple[Path, str], tmp_path: Path) -> tuple[Workspace, Path]:
    """A private copy of the mined workspace (tests may change it), and its run folder."""
    root, run_name = mined_template
    copy = tmp_path / "workspace"
    shutil.copytree(root, copy)
    return open_workspace(copy), copy / "runs" / run_name


@pytest.fixture
def studio_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`studio_cli(ws, *args)`: `python -m studio ARGS --workspace WS` as a subprocess."""

    def run(
        ws: Workspace, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        result = subprocess.run(
            [sys.executable, "-m", "studio", *args, "--workspace", str(ws.root)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run
