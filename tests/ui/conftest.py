"""Browser fixtures: a studio served on a free port and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Studio:
    url: str
    workspace: Path
    process: subprocess.Popen
    log_path: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_studio(
    workspace: Path,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> Studio:
    """Start `python app.py` on a free port and wait until it answers (a 401 of a studio that
    asks for a login counts)."""
    port = _free_port()
    env = {**os.environ, "STUDIO_WORKSPACE": str(workspace), **(extra_env or {})}
    command = [
        sys.executable,
        "app.py",
        "--port",
        str(port),
        "--workspace",
        str(workspace),
        *extra_args,
    ]
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/config", timeout=5).close()
            return Studio(url, workspace, process, log_path)
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return Studio(url, workspace, process, log_path)
            pytest.fail(f"/config answered HTTP {error.code}; log:\n{log_path.read_text()}")
        except OSError:
            if process.poll() is not None:
                pytest.fail(
                    f"studio exited with {process.returncode}; log:\n{log_path.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"studio did not answer within 180 s; log:\n{log_path.read_text()}")
            time.sleep(1)


def stop_studio(studio: Studio) -> None:
    studio.process.terminate()
    try:
        studio.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        studio.process.kill()


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """A studio on a fresh workspace (demo data registered), shared by one test module; the
    page may use any path under pytest's temporary folder (`--data-root`), where the tests'
    models, adapters and files lie."""
    root = tmp_path_factory.mktemp("studio")
    data_root = ["--data-root", str(tmp_path_factory.getbasetemp())]
    running = start_studio(root / "workspace", root / "studio.log", extra_args=data_root)
    yield running
    stop_studio(running)


@pytest.fixture(scope="module")
def launch_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Studio]]:
    """`launch_studio(*options, env={...})` starts a studio on a fresh workspace with extra
    app.py options and environment; every one started is stopped when the module ends."""
    started: list[Studio] = []

    def launch(*options: str, env: dict[str, str] | None = None) -> Studio:
        root = tmp_path_factory.mktemp("studio")
        started.append(start_studio(root / "workspace", root / "studio.log", env, options))
        return started[-1]

    yield launch
    for running in started:
        stop_studio(running)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian chromium through Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail("Debian's chromium is needed for browser tests: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A new page with a generous default timeout (CPU-bound studio on 2 cores)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    new_page = context.new_page()
    new_page.set_default_timeout(60_000)
    yield new_page
    context.close()


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """`screenshot(page, name)` saves a full-page PNG under test-artifacts/."""

    def take(page: object, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
