"""Fixtures for the demo dataset tests: the build script as a module and the question list."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
BUILD_SCRIPT = DATA_DIR / "build_demo.py"
COMMITTED_DATABASES = DATA_DIR / "demo" / "databases"
QUESTIONS_PATH = DATA_DIR / "demo" / "questions.json"


def open_read_only(path: Path) -> sqlite3.Connection:
    """Open a SQLite file read-only through a `file:...?mode=ro` URI."""
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `python data/build_demo.py`")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


@pytest.fixture(scope="session")
def connect_read_only() -> Callable[[Path], sqlite3.Connection]:
    """A function that opens a SQLite file read-only."""
    return open_read_only


@pytest.fixture(scope="session")
def build_demo() -> ModuleType:
    """`data/build_demo.py` loaded as a module (data/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_demo", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None, f"cannot load {BUILD_SCRIPT}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def questions() -> list[dict]:
    """The committed demo questions."""
    return json.loads(QUESTIONS_PATH.read_text(encoding="utf-8"))
