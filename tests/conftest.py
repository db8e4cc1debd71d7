"""Shared fixtures: real databases, the committed benchmark slices, workspaces and models.

Nothing here is mocked: SQLite files are real files, MySQL is the MariaDB server at
127.0.0.1:3306, and models are the real built-in model or tiny random models of the
same architectures saved with the built-in model's tokenizer. The SpiderMan and BIRD
data are the small slices committed under tests/fixtures/ (README.md there).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pymysql
import pytest

from studio.data.importers.demo import open_workspace
from studio.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
# The tiny models' vocabulary: the built-in tokenizer's first 32,000 tokens (text encodes a little
# longer than with all 151,936) make their output layer, most of their compute, about 5x smaller.
TINY_VOCAB_TOKENS = 32_000


# pytest-xdist's `--dist loadgroup` (scripts/test.sh) sends every test of one group to one worker.
MARIADB_GROUP = "mariadb"


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker computes with its share of the cores (1 thread each for 2 workers on 2
    cores), it and every process it starts (jobs, studios), unless OMP_NUM_THREADS is set:
    workers whose torch threads together outnumber the cores wait on each other's threads."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the marks added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the converted built-in model must be marked `builtin`, so that
    `-m "not builtin"` never converts it. A test that uses MariaDB is marked `mysql`: here when
    its fixtures reach `mysql_server_url`, by hand when it reaches MariaDB through
    `request.getfixturevalue`.

    Under pytest-xdist every test gets a group (`--dist loadgroup` keeps a group on one worker):
    its file, so that a module's fixtures are set up once, except that every file holding a
    `mysql` test joins one MARIADB_GROUP. The MariaDB tests compare fingerprints of the whole
    server (its databases, accounts, routines, named locks) before and after an attack, and
    others create databases and accounts: run on two workers at once, one worker's set-up would
    show as the other's attack having changed the server."""
    unmarked = [
        item.nodeid
        for item in items
        if "builtin_model_dir" in getattr(item, "fixturenames", ())
        and not item.get_closest_marker("builtin")
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use builtin_model_dir (the converted built-in model) without "
            "@pytest.mark.builtin: mark them, or take builtin_tokenizer_dir when the tokenizer "
            "is all they need: " + ", ".join(unmarked)
        )
    for item in items:
        if "mysql_server_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mysql)
    if config.pluginmanager.hasplugin("xdist"):  # `-p no:xdist` leaves xdist_group unknown
        mariadb_files = {item.path for item in items if item.get_closest_marker("mysql")}
        for item in items:
            group = MARIADB_GROUP if item.path in mariadb_files else item.nodeid.split("::")[0]
            item.add_marker(pytest.mark.xdist_group(group))
        if hasattr(config, "workerinput"):  # a worker: the order of the groups it collected
            # xdist hands the groups out by their number of tests, largest first; among groups of
            # the same size (most browser files hold one or a few tests) this order decides: the
            # browser files and the built-in model's files first, then the MariaDB group.
            slow = {
                item.path
                for item in items
                if item.get_closest_marker("browser") or item.get_closest_marker("builtin")
            }
            ranks = {path: 0 for path in slow}
            items.sort(
                key=lambda item: ranks.get(item.path, 1 if item.path in mariadb_files else 2)
            )


@pytest.fixture(scope="session")
def spiderman_dir() -> Path:
    """The SpiderMan slice: train_queries.csv, test_queries.csv, sqlite/, mysql/ (read only)."""
    return FIXTURES / "spiderman"


@pytest.fixture(scope="session")
def spiderman_sqlite_dir(spiderman_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The slice's SpiderMan SQLite databases, copied once per session (tests never touch the
    committed files)."""
    target = tmp_path_factory.mktemp("spiderman") / "sqlite"
    return Path(shutil.copytree(spiderman_dir / "sqlite", target))


@pytest.fixture(scope="session")
def spiderman_mysql_dir(spiderman_dir: Path) -> Path:
    """SpiderMan's MySQL form (schema.sql + data/<table>.csv per database) of the databases the
    MariaDB tests load (read only)."""
    return spiderman_dir / "mysql"


@pytest.fixture(scope="session")
def bird_minidev() -> Path:
    """The BIRD mini-dev slice: questions, tables file, description CSVs as published
    (read only)."""
    return FIXTURES / "bird-minidev"


@pytest.fixture(scope="session")
def mysql_server_url() -> str:
    """URL of the running MariaDB (fails loudly when it is down: start it, don't skip)."""
    try:
        pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", connect_timeout=5
        ).close()
    except pymysql.MySQLError as error:
        pytest.fail(
            f"MariaDB is not reachable at 127.0.0.1:3306 ({error}); start it with "
            "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`"
        )
    return MYSQL_URL


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace in a temporary folder."""
    return open_workspace(tmp_path / "workspace")


@pytest.fixture(scope="session")
def builtin_model_dir() -> Path:
    """The converted built-in model folder (converted once into the model cache); only for
    tests marked `builtin`."""
    from studio.models.references import DEFAULT_MODEL, resolve_model_dir

    return resolve_model_dir(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def builtin_tokenizer_dir() -> Path:
    """A folder with the built-in model's tokenizer files, written from the GGUF's metadata
    without converting its weights (the converted model folder when that already exists)."""
    from studio.models.references import DEFAULT_MODEL, resolve_tokenizer_dir

    return resolve_tokenizer_dir(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def tiny_qwen2_dir(builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 model with the built-in model's tokenizer cut to TINY_VOCAB_TOKENS
    (a model reference)."""
    from studio.testing.random_models import save_random_model

    target = tmp_path_factory.mktemp("tiny-qwen2")
    return save_random_model(
        "tiny-qwen2", target, str(builtin_tokenizer_dir), vocab_tokens=TINY_VOCAB_TOKENS
    )


@pytest.fixture(scope="session")
def tiny_qwen3_moe_dir(
    builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A tiny random Qwen3-MoE model (the seed model's family) with the built-in tokenizer cut
    to TINY_VOCAB_TOKENS."""
    from studio.testing.random_models import save_random_model

    target = tmp_path_factory.mktemp("tiny-qwen3-moe")
    return save_random_model(
        "tiny-qwen3-moe", target, str(builtin_tokenizer_dir), vocab_tokens=TINY_VOCAB_TOKENS
    )


def file_checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by path relative to it."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def checksums() -> Callable[[Path], dict[str, str]]:
    """`checksums(folder)`: sha256 of every file under it (shows a failure changed nothing)."""
    return file_checksums
