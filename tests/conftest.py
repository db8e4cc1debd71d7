"""Shared fixtures: real databases, the shared benchmark data, workspaces and models.

Nothing here is mocked: SQLite files are real files, MySQL is the MariaDB server at
127.0.0.1:3306, and models are the real built-in model or tiny random models of the
same architectures saved with the built-in model's tokenizer.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable
from pathlib import Path

import pymysql
import pytest

from studio.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout (SpiderMan, BIRD mini-dev)."""
    if not (SHARED_DATA / "spiderman" / "test_queries.csv").exists():
        pytest.fail(f"reference data not found at {SHARED_DATA}: the checkout needs ../shared/data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def spiderman_sqlite_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 157 SpiderMan SQLite databases, unpacked once per test session."""
    target = tmp_path_factory.mktemp("spiderman")
    with tarfile.open(shared_data / "spiderman" / "sqlite.tar.xz") as archive:
        archive.extractall(target, filter="data")
    return target / "sqlite"


@pytest.fixture(scope="session")
def mysql_server_url() -> str:
    """URL of the running MariaDB (fails loudly when it is down: start it, don't skip)."""
    try:
        pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=5).close()
    except pymysql.MySQLError as error:
        pytest.fail(
            f"MariaDB is not reachable at 127.0.0.1:3306 ({error}); start it with "
            "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`"
        )
    return MYSQL_URL


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace in a temporary folder."""
    return Workspace.open(tmp_path / "workspace")


@pytest.fixture(scope="session")
def builtin_model_dir() -> Path:
    """The converted built-in model folder (converted once into the model cache)."""
    from studio.models import DEFAULT_MODEL, resolve_model_dir

    return resolve_model_dir(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def tiny_qwen2_dir(builtin_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 model with the built-in model's tokenizer (a model reference)."""
    from studio.random_models import save_random_model

    return save_random_model("tiny-qwen2", tmp_path_factory.mktemp("tiny-qwen2"), str(builtin_model_dir))


@pytest.fixture(scope="session")
def tiny_qwen3_moe_dir(builtin_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-MoE model (the seed model's family) with the built-in tokenizer."""
    from studio.random_models import save_random_model

    return save_random_model("tiny-qwen3-moe", tmp_path_factory.mktemp("tiny-qwen3-moe"), str(builtin_model_dir))


def file_checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by path relative to it."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def checksums() -> Callable[[Path], dict[str, str]]:
    """`checksums(folder)`: sha256 of every file under it (shows a failure changed nothing)."""
    return file_checksums
