"""Who may reach the browser studio (studio.web.access): credentials and the binding rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.web.access import (
    check_binding,
    is_loopback,
    load_credentials,
    parse_credentials,
    read_auth_file,
)


def _auth_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_credentials_are_user_colon_password() -> None:
    assert parse_credentials("ana:s3:cret", "$STUDIO_AUTH") == ("ana", "s3:cret")
    for bad in ("no-colon", ":pass", "ana:", ""):
        with pytest.raises(StudioError, match=r"\$STUDIO_AUTH must hold USER:PASS"):
            parse_credentials(bad, "$STUDIO_AUTH")


def test_an_auth_file_holds_one_line_and_only_its_owner_may_read_it(tmp_path: Path) -> None:
    assert read_auth_file(_auth_file(tmp_path / "login", "ana:s3cret\n")) == ("ana", "s3cret")
    shared = _auth_file(tmp_path / "shared", "ana:s3cret\n", 0o644)
    with pytest.raises(StudioError, match=r"other users may read or change it .*chmod 600"):
        read_auth_file(shared)
    with pytest.raises(StudioError, match="chmod 600"):
        read_auth_file(_auth_file(tmp_path / "group-writable", "ana:s3cret\n", 0o620))
    with pytest.raises(StudioError, match="expected one USER:PASS line, found 2"):
        read_auth_file(_auth_file(tmp_path / "two", "ana:a\nbob:b\n"))
    with pytest.raises(StudioError, match="cannot read it"):
        read_auth_file(tmp_path / "missing")


def test_credentials_come_from_the_file_or_the_environment_not_both(tmp_path: Path) -> None:
    login = str(_auth_file(tmp_path / "login", "ana:from-file\n"))
    assert load_credentials(login, {}) == ("ana", "from-file")
    assert load_credentials(None, {"STUDIO_AUTH": "bob:from-env"}) == ("bob", "from-env")
    assert load_credentials(None, {"STUDIO_AUTH": ""}) is None
    assert load_credentials(None, {}) is None
    with pytest.raises(StudioError, match="both STUDIO_AUTH and --auth-file"):
        load_credentials(login, {"STUDIO_AUTH": "bob:from-env"})


def test_loopback_is_localhost_127_slash_8_and_ipv6_one() -> None:
    for host in ("127.0.0.1", "127.3.2.1", "localhost", "LOCALHOST", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "192.168.1.5", "10.0.0.1", "studio.example", "128.0.0.1"):
        assert not is_loopback(host), host


def test_binding_beyond_loopback_needs_a_login_or_the_insecure_flag() -> None:
    assert check_binding("127.0.0.1", 7860, None, False) is None
    assert check_binding("0.0.0.0", 7860, ("ana", "s3cret"), False) is None
    with pytest.raises(StudioError) as refused:
        check_binding("0.0.0.0", 7860, None, False)
    for fix in ("STUDIO_AUTH=USER:PASS", "--auth-file FILE", "127.0.0.1", "--insecure-no-auth"):
        assert fix in str(refused.value)
    warning = check_binding("192.168.1.5", 8080, None, True)
    assert "WARNING: serving on 192.168.1.5:8080 WITHOUT A LOGIN (--insecure-no-auth)" in warning
