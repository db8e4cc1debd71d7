"""The CLI skeleton, the workspace and the studio page."""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from studio.cli import VERBS, build_parser
from studio.data.importers.demo import open_workspace

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_verb_and_each_leaf_takes_workspace() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "studio", "--help"], capture_output=True, text=True, check=True
    )
    for verb in VERBS:
        assert verb in result.stdout
    parser = build_parser()
    args = parser.parse_args(["model", "info", "x", "--workspace", "/tmp/somewhere"])
    assert args.workspace == "/tmp/somewhere"


def test_workspace_is_created_on_first_use_with_its_layout(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "new" / "ws")
    for folder in (ws.root, ws.datasets_dir, ws.runs_dir):
        assert folder.is_dir()
    with contextlib.closing(ws.connect()) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_workspace_default_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_WORKSPACE", str(tmp_path / "from-env"))
    assert open_workspace().root == (tmp_path / "from-env").resolve()


def _count_writes(root: str, worker: int, count: int) -> None:
    ws = open_workspace(root)
    for i in range(count):
        with contextlib.closing(ws.connect()) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS counter (worker INTEGER, i INTEGER)")
            conn.execute("INSERT INTO counter VALUES (?, ?)", (worker, i))
        run_dir = ws.new_run_dir("test")
        (run_dir / "owner").write_text(str(worker))


def test_two_processes_share_a_workspace_without_losing_writes(tmp_path: Path) -> None:
    root = str(tmp_path / "shared-ws")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_count_writes, args=(root, w, 40)) for w in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    ws = open_workspace(root)
    with contextlib.closing(ws.connect()) as conn:
        assert conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 80
    assert len(list(ws.runs_dir.iterdir())) == 80


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_app_py_serves_the_studio_page(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--workspace", str(tmp_path / "ws")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/config", timeout=5
                ) as response:
                    config = response.read().decode()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "studio did not come up within 120 s"
                time.sleep(0.2)
        assert "Text-to-SQL Studio" in config
        for tab in ("Datasets", "Train", "Pairs", "Playground", "Evaluate"):
            assert tab in config
    finally:
        process.terminate()
        process.wait(timeout=30)
