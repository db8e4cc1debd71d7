"""Browser fixtures: a studio served on a free port and Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
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
    studio = Studio(f"http://127.0.0.1:{port}", workspace, process, log_path)
    try:
        _wait_until_answering(studio)
    except BaseException:
        stop_studio(studio)  # a studio that never served is not left running
        raise
    return studio


def _wait_until_answering(studio: Studio) -> None:
    deadline = time.monotonic() + 180
    log = studio.log_path
    while True:
        try:
            urllib.request.urlopen(f"{studio.url}/config", timeout=5).close()
            return
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return
            pytest.fail(f"/config answered HTTP {error.code}; log:\n{log.read_text()}")
        except OSError:
            if studio.process.poll() is not None:
                pytest.fail(
                    f"studio exited with {studio.process.returncode}; log:\n{log.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"studio did not answer within 180 s; log:\n{log.read_text()}")
            time.sleep(0.2)


def stop_studio(studio: Studio) -> None:
    studio.process.terminate()
    try:
        studio.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        studio.process.kill()


@pytest.fixture(scope="session")
def tiny_qwen2_dir(builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen2 model with the built-in model's whole vocabulary (the other tests' tiny
    model has a cut one): its training steps last long enough for a page to see a run running,
    chart a logged step and cancel it before the run ends."""
    from studio.testing.random_models import save_random_model

    target = tmp_path_factory.mktemp("tiny-qwen2-full-vocab")
    return save_random_model("tiny-qwen2", target, str(builtin_tokenizer_dir))


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


@dataclass
class Seeded:
    """What `seeded_studio` put into its workspace (run folder names)."""

    studio: Studio
    train_runs: list[str]
    eval_run: str
    pairs_run: str


def _finish(ws: object, job_id: int, deadline_s: float = 600) -> None:
    from studio.jobs import FINAL_STATES, get_job

    deadline = time.monotonic() + deadline_s
    while get_job(ws, job_id).state not in FINAL_STATES:
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} did not finish within {deadline_s:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def seeded_studio(
    tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """A studio of its own, shared by the session's crawl and layout tests, with a run of every
    kind, made by the core functions the tabs call:
    a one-step SFT run of the tiny model, an SFT run that failed (its model's weights file is
    garbage, so its history row holds a long error), pairs mined by the tiny model, and an
    evaluation scored from a predictions file (right, wrong and failing SQL, long enough to
    wrap). The studio stops at the end of the session, or at once when seeding fails."""
    root = tmp_path_factory.mktemp("seeded-studio")
    data_root = ["--data-root", str(tmp_path_factory.getbasetemp())]
    studio = start_studio(root / "workspace", root / "studio.log", extra_args=data_root)
    try:
        yield _seed(studio, tiny_qwen2_dir, tmp_path_factory)
    finally:
        stop_studio(studio)


def _seed(studio: Studio, tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """Give the studio's workspace the runs `seeded_studio` describes."""
    from studio.data.importers.demo import open_workspace
    from studio.data.registry import load_examples
    from studio.evaluate.run import score_predictions
    from studio.pairs.config import MiningConfig, write_config
    from studio.pairs.mine import mine
    from studio.train.config import config_from_mapping, load_config
    from studio.train.start import start_training

    ws = open_workspace(studio.workspace)
    folder = tmp_path_factory.mktemp("seed")
    base = load_config(REPO_ROOT / "configs" / "demo_sft.yaml").to_dict()
    broken_model = Path(shutil.copytree(tiny_qwen2_dir, folder / "broken-model"))
    for weights in broken_model.glob("*.safetensors"):
        weights.write_bytes(b"not safetensors")
    train_runs = []
    for model, steps in ((tiny_qwen2_dir, 1), (broken_model, 1)):
        cfg = config_from_mapping(
            {**base, "model_name_or_path": str(model), "max_steps": steps, "cutoff_len": 256},
            source="seed",
        )
        job = start_training(ws, cfg)
        train_runs.append(job.run_dir.name)
        _finish(ws, job.id)

    pairs_dir = ws.new_run_dir("pairs")
    mining = MiningConfig(
        model=str(tiny_qwen2_dir),
        dataset="demo_train",
        n=2,
        limit=3,
        batch_size=2,
        max_new_tokens=12,
    )
    write_config(pairs_dir, mining)
    mine(ws, pairs_dir, mining)

    examples = load_examples(ws, "demo_test")
    long_wrong = (
        "SELECT name, country, song_name, song_release_year, age, is_male FROM singer "
        "WHERE country = 'Netherlands' OR country = 'France' OR country = 'United States' "
        "ORDER BY age DESC, name ASC, song_release_year DESC LIMIT 10"
    )
    sqls = [examples[0].gold_sql, long_wrong, "SELECT * FROM no_such_table_with_a_long_name"]
    predictions = folder / "predictions.jsonl"
    predictions.write_text(
        "".join(json.dumps({"index": i, "sql": sql}) + "\n" for i, sql in enumerate(sqls))
    )
    summary = score_predictions(ws, "demo_test", predictions, bars=False)
    return Seeded(studio, train_runs, Path(summary["out_dir"]).name, pairs_dir.name)
