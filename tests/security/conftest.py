"""Fixtures for the hostile-input suite: the demo's concert_singer database on SQLite and
loaded into the running MariaDB, a watched folder for files an attack might write, and
fingerprints that change when anything in a database or on the server changes.

Tests that take `engine` and `attack` run once per statement of catalogue.py that applies
to the engine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pymysql
import pytest

from studio.sql.load_mysql import load_into_mysql

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_DB = REPO_ROOT / "data" / "demo" / "databases" / "concert_singer.sqlite"
# Local admin connections need no TLS; without ssl_disabled pymysql loads the system's CA
# certificates for every connection (about 30 ms), paid twice around every attack.
ADMIN = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "ssl_disabled": True}


def _load_catalogue():
    spec = importlib.util.spec_from_file_location(
        "studio_hostile_catalogue", Path(__file__).with_name("catalogue.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


catalogue = _load_catalogue()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marks = {"sqlite": (), "mysql": (pytest.mark.mysql,)}  # `target` reaches MariaDB at run time
    if {"engine", "attack"} <= set(metafunc.fixturenames):
        cases = [
            pytest.param(
                engine, attack, id=f"{engine}-{index}-{attack.label()}", marks=marks[engine]
            )
            for engine in ("sqlite", "mysql")
            for index, attack in enumerate(catalogue.attacks_for(engine))
        ]
        metafunc.parametrize(("engine", "attack"), cases)
    elif "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", [pytest.param(e, marks=marks[e]) for e in marks])


@pytest.fixture(scope="session")
def watched_dir() -> Iterator[Path]:
    """A folder anyone (the MariaDB server too) may write: attacks aim their files here."""
    folder = Path(tempfile.gettempdir()) / f"studio-hostile-{uuid.uuid4().hex[:10]}"
    folder.mkdir()
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="session")
def hostile_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the demo's concert_singer.sqlite in a folder of its own."""
    folder = tmp_path_factory.mktemp("hostile-sqlite")
    return Path(shutil.copy(DEMO_DB, folder / "concert_singer.sqlite"))


@pytest.fixture(scope="session")
def hostile_mysql(mysql_server_url: str) -> Iterator[str]:
    """The demo's concert_singer loaded into a fresh MariaDB database; yields its URL."""
    url = f"mysql://root@127.0.0.1:3306/studio_hostile_{uuid.uuid4().hex[:10]}"
    load_into_mysql(DEMO_DB, url)
    yield url
    connection = pymysql.connect(**ADMIN, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{url.rsplit('/', 1)[1]}`")
    finally:
        connection.close()


@pytest.fixture
def target(engine: str, request: pytest.FixtureRequest) -> str:
    """The engine's database reference."""
    if engine == "sqlite":
        return str(request.getfixturevalue("hostile_sqlite"))
    return request.getfixturevalue("hostile_mysql")


def sqlite_fingerprint(path: Path) -> tuple:
    """The file's bytes and its folder's names (ATTACH or VACUUM INTO would add files)."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(os.listdir(path.parent))


def mysql_fingerprint(url: str) -> tuple:
    """Table checksums and counts of the database, and the server's databases, users,
    settings, locks and the database folder's files."""
    name = url.rsplit("/", 1)[1]
    connection = pymysql.connect(**ADMIN, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                "ORDER BY TABLE_NAME",
                (name,),
            )
            tables = [row[0] for row in cursor.fetchall()]
            state: list = [tables]
            for table in tables:
                cursor.execute(f"CHECKSUM TABLE `{name}`.`{table}` EXTENDED")
                state.append(cursor.fetchone())
            for query in (
                "SHOW DATABASES",
                "SELECT User, Host FROM mysql.user ORDER BY User, Host",
                "SELECT @@GLOBAL.max_connections, @@GLOBAL.sql_mode, @@GLOBAL.read_only",
                "SELECT IS_USED_LOCK('studio')",
                "SELECT ROUTINE_NAME FROM information_schema.ROUTINES",
            ):
                cursor.execute(query)
                state.append(cursor.fetchall())
            cursor.execute("SELECT @@datadir")
            datadir = Path(cursor.fetchone()[0]) / name
    finally:
        connection.close()
    state.append(sorted(os.listdir(datadir)) if datadir.is_dir() else None)
    return tuple(state)


@pytest.fixture
def fingerprint(engine: str, target: str) -> Callable[[], tuple]:
    """`fingerprint()`: a value that changes when anything an attack could touch changes."""
    if engine == "sqlite":
        return lambda: sqlite_fingerprint(Path(target))
    return lambda: mysql_fingerprint(target)


@pytest.fixture
def fill(watched_dir: Path, target: str) -> Callable[[str], str]:
    """`fill(sql)`: the statement with its `{tmp}` and `{db}` placeholders filled in."""
    name = Path(target).stem if "://" not in target else target.rsplit("/", 1)[1]
    return lambda sql: sql.replace("{tmp}", str(watched_dir)).replace("{db}", name)
