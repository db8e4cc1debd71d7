"""Database references (a SQLite file or a `mysql://` URL) and read-only connections."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from studio.errors import StudioError

SQLITE_MAGIC = b"SQLite format 3\x00"
MYSQL_SCHEMES = ("mysql", "mariadb", "mysql+pymysql")


@dataclass(frozen=True)
class DatabaseRef:
    """Where a database lives. `name` is the MySQL database name or the SQLite file stem."""

    dialect: str  # "sqlite" | "mysql"
    name: str
    path: Path | None = None
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None

    def __str__(self) -> str:
        """A display form that never shows the password."""
        if self.dialect == "sqlite":
            return str(self.path)
        user = f"{self.user}@" if self.user else ""
        return f"mysql://{user}{self.host}:{self.port}/{self.database}"


def parse_database(ref: str | Path | DatabaseRef) -> DatabaseRef:
    """Turn a SQLite path or a `mysql://user:pass@host:port/db` URL into a DatabaseRef."""
    if isinstance(ref, DatabaseRef):
        return ref
    text = str(ref).strip()
    if isinstance(ref, str) and "://" in text:
        return _parse_mysql_url(text)
    return _parse_sqlite_path(Path(text).expanduser())


def _parse_mysql_url(url: str) -> DatabaseRef:
    parts = urlsplit(url)
    if parts.scheme.lower() not in MYSQL_SCHEMES:
        raise StudioError(
            f"database URL {url!r}: unsupported scheme {parts.scheme!r}; "
            "use a SQLite file path or mysql://user:pass@host:port/db"
        )
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise StudioError(
            f"database URL {url!r} names no database; add it after the host, "
            "e.g. mysql://root@127.0.0.1:3306/concert_singer"
        )
    try:
        port = parts.port or 3306
    except ValueError as error:
        raise StudioError(f"database URL {url!r}: bad port ({error}); use e.g. :3306") from error
    return DatabaseRef(
        dialect="mysql",
        name=database,
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username) if parts.username else "root",
        password=unquote(parts.password) if parts.password else "",
        database=database,
    )


def _parse_sqlite_path(path: Path) -> DatabaseRef:
    if not path.is_file():
        hint = "it is a folder" if path.is_dir() else "no such file"
        raise StudioError(
            f"SQLite database {path}: {hint}; pass the path of a .sqlite file "
            "or a mysql://user:pass@host:port/db URL"
        )
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_MAGIC))
    if header and header != SQLITE_MAGIC:
        raise StudioError(f"{path} is not a SQLite database (bad file header); pass a .sqlite file")
    resolved = path.resolve()
    return DatabaseRef(dialect="sqlite", name=resolved.stem, path=resolved)


def open_sqlite_readonly(path: str | Path) -> sqlite3.Connection:
    """Open a SQLite file read-only (`mode=ro` URI) with the read-only authorizer installed."""
    from studio.sql.guard import install_sqlite_authorizer

    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise StudioError(f"cannot open SQLite database {path} read-only: {error}") from error
    install_sqlite_authorizer(connection)
    return connection


def open_mysql(ref: DatabaseRef, read_timeout_s: float | None = None):  # -> pymysql.Connection
    """Connect to a MySQL/MariaDB database (autocommit, single statements only)."""
    import pymysql

    if ref.dialect != "mysql":
        raise StudioError(f"{ref} is not a MySQL database reference")
    try:
        return pymysql.connect(
            host=ref.host,
            port=ref.port,
            user=ref.user,
            password=ref.password or "",
            database=ref.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=10,
            read_timeout=read_timeout_s,
            write_timeout=read_timeout_s,
        )
    except pymysql.MySQLError as error:
        raise StudioError(
            f"cannot connect to {ref}: {error}; check that the server is running and the "
            "user, password and database name in the URL are right"
        ) from error
