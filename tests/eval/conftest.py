"""Fixtures for evaluation tests: workspaces holding the demo datasets and the SpiderMan
test slice."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from studio.data.importers.common import ImportOptions
from studio.data.importers.csv_sqlite import import_csv
from studio.data.importers.demo import open_workspace
from studio.workspace import Workspace


@pytest.fixture
def demo_ws(tmp_path: Path) -> Workspace:
    """A fresh workspace: Workspace.open registers demo_train and demo_test."""
    return open_workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def spiderman_ws(
    spiderman_dir: Path, spiderman_sqlite_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    """A workspace with the SpiderMan test slice (tests/fixtures) imported as `spiderman`."""
    ws = open_workspace(tmp_path_factory.mktemp("spiderman-ws") / "ws")
    import_csv(
        ws,
        spiderman_dir / "test_queries.csv",
        ImportOptions(name="spiderman", db_dir=spiderman_sqlite_dir),
    )
    return ws


@pytest.fixture
def jsonl_file(tmp_path: Path) -> Callable[[str, Iterable[object]], Path]:
    """Write one JSON value per line into tmp_path/NAME and return the path."""

    def write(name: str, records: Iterable[object]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        return path

    return write
