"""Who may reach the browser studio.

The login comes from the environment (`STUDIO_AUTH=user:pass`) or from a file only its owner
can read (`--auth-file PATH`), never from the command line, where `ps` shows it to every user
of the machine. Binding an address beyond this machine without a login is refused unless
`--insecure-no-auth` says so, and then a warning is printed.
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Mapping
from pathlib import Path

from studio.errors import StudioError

AUTH_ENV = "STUDIO_AUTH"
AUTH_FILE_FLAG = "--auth-file"
INSECURE_FLAG = "--insecure-no-auth"
Credentials = tuple[str, str]

ARGV_PASSWORD_REFUSED = (
    "--auth is refused: a password on the command line is shown to every user of this machine "
    f"(ps, /proc/PID/cmdline); set {AUTH_ENV}=USER:PASS in the environment, or write USER:PASS "
    f"into a file only you can read (chmod 600 FILE) and pass {AUTH_FILE_FLAG} FILE"
)


def parse_credentials(text: str, source: str) -> Credentials:
    """`user:pass` -> (user, pass); a StudioError naming `source` when either part is missing."""
    user, sep, password = text.partition(":")
    if not sep or not user.strip() or not password:
        raise StudioError(f"{source} must hold USER:PASS (a user name, a colon, a password)")
    return user.strip(), password


def read_auth_file(path: Path) -> Credentials:
    """The one `user:pass` line of `path`, which no other user may read or write."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise StudioError(f"{AUTH_FILE_FLAG} {path}: cannot read it ({error.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StudioError(
            f"{AUTH_FILE_FLAG} {path}: other users may read or change it "
            f"(mode {stat.filemode(mode)}); run `chmod 600 {path}` first"
        )
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise StudioError(
            f"{AUTH_FILE_FLAG} {path}: expected one USER:PASS line, found {len(lines)}"
        )
    return parse_credentials(lines[0], f"{AUTH_FILE_FLAG} {path}")


def load_credentials(auth_file: str | None, environ: Mapping[str, str]) -> Credentials | None:
    """The login from `auth_file` or `$STUDIO_AUTH` (not both); None when neither is given."""
    from_env = environ.get(AUTH_ENV) or None
    if auth_file and from_env:
        raise StudioError(f"both {AUTH_ENV} and {AUTH_FILE_FLAG} give a login; keep one of them")
    if auth_file:
        return read_auth_file(Path(auth_file).expanduser())
    if from_env:
        return parse_credentials(from_env, f"${AUTH_ENV}")
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only: localhost, 127.0.0.0/8 or ::1."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_binding(
    host: str, port: int, credentials: Credentials | None, insecure: bool
) -> str | None:
    """Refuse serving beyond this machine without a login; the warning to print when
    `--insecure-no-auth` allows it (None when there is nothing to warn about)."""
    if credentials is not None or is_loopback(host):
        return None
    if not insecure:
        raise StudioError(
            f"--host {host} serves the studio beyond this machine, and without a login anyone who "
            "reaches it can read and write files and start jobs; require a login with "
            f"{AUTH_ENV}=USER:PASS or {AUTH_FILE_FLAG} FILE, or bind 127.0.0.1, or pass "
            f"{INSECURE_FLAG} if every machine that can reach port {port} is trusted"
        )
    rule = "!" * 78
    return (
        f"{rule}\nWARNING: serving on {host}:{port} WITHOUT A LOGIN ({INSECURE_FLAG}).\n"
        f"Anyone who can reach port {port} can read and write the files the studio may use,\n"
        "run SQL on the registered databases and start jobs on this machine.\n"
        f"Set {AUTH_ENV}=USER:PASS or pass {AUTH_FILE_FLAG} FILE to require a login.\n{rule}"
    )
