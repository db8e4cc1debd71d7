"""Who can reach a served studio, on real `app.py` / `python -m studio serve` processes.

The option rules (a bind beyond this machine needs a login or --insecure-no-auth; a password
on the command line is refused; the login comes from $STUDIO_AUTH or --auth-file and never
shows in /proc/PID/cmdline), then every HTTP route Gradio registers, asked without and with
the login cookie, and the login page in a real browser.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from studio.testing.gestures import table_row

REPO_ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "ana", "pw-7Hq2-not-on-argv"
# what the login page needs before a login (everything else must answer 401 without one)
OPEN_ROUTES = {
    ("GET", "/"),
    ("HEAD", "/"),
    ("POST", "/login"),
    ("POST", "/login/"),
    ("GET", "/favicon.ico"),
    ("GET", "/theme.css"),
    ("GET", "/assets/{path}"),
    ("GET", "/static/{path}"),
    ("GET", "/gradio_api/startup-events"),
}
# routes the enumeration must find, so that it is not vacuous
REPRESENTATIVE = {
    ("POST", "/gradio_api/cancel"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file={path_or_url}"),
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("POST", "/gradio_api/run/{api_name}"),
}
expect.set_options(timeout=60_000)  # a CPU-bound studio on 2 shared cores


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _refused(command: list[str], tmp_path: Path) -> tuple[str, int]:
    """Run a serve command that must be refused: (its stderr, the port it was given)."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "STUDIO_AUTH"}
    argv = [sys.executable, *command, "--port", str(port), "--workspace", str(tmp_path / "ws")]
    result = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not _listening(port)
    return result.stderr, port


def _auth_file(folder: Path) -> Path:
    path = folder / "studio-login"
    path.write_text(f"{USER}:{PASSWORD}\n")
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def _logged_in(url: str, user: str = USER, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """An HTTP client holding the studio's login cookie."""
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.post("/login", data={"username": user, "password": password})
        assert response.status_code == 200, response.text
        yield client


@pytest.fixture(scope="module")
def authed(launch_studio, tmp_path_factory: pytest.TempPathFactory):
    """A studio bound to every interface, its login in a mode-600 --auth-file."""
    login = _auth_file(tmp_path_factory.mktemp("login"))
    return launch_studio("--host", "0.0.0.0", "--auth-file", str(login))


def test_binding_beyond_this_machine_without_a_login_is_refused(tmp_path: Path) -> None:
    for command in (
        ["app.py", "--host", "0.0.0.0"],
        ["-m", "studio", "serve", "--host", "::"],
        ["app.py", "--host", "192.168.7.7"],
    ):
        stderr, port = _refused(command, tmp_path)
        assert f"error: --host {command[-1]} serves the studio beyond this machine" in stderr
        for fix in (
            "STUDIO_AUTH=USER:PASS",
            "--auth-file FILE",
            "bind 127.0.0.1",
            f"--insecure-no-auth if every machine that can reach port {port} is trusted",
        ):
            assert fix in stderr


def test_a_password_on_the_command_line_is_refused(tmp_path: Path) -> None:
    for command in (
        ["app.py", "--auth", f"{USER}:{PASSWORD}"],
        ["-m", "studio", "serve", "--host", "0.0.0.0", "--auth", f"{USER}:{PASSWORD}"],
    ):
        stderr, _port = _refused(command, tmp_path)
        assert "error: --auth is refused: a password on the command line is shown" in stderr
        assert "set STUDIO_AUTH=USER:PASS in the environment" in stderr
        assert "--auth-file FILE" in stderr


def test_an_auth_file_others_can_read_is_refused(tmp_path: Path) -> None:
    login = _auth_file(tmp_path)
    login.chmod(0o644)
    stderr, _port = _refused(["app.py", "--host", "0.0.0.0", "--auth-file", str(login)], tmp_path)
    assert f"run `chmod 600 {login}` first" in stderr


def test_insecure_no_auth_serves_without_a_login_after_a_loud_warning(launch_studio) -> None:
    studio = launch_studio("--host", "0.0.0.0", "--insecure-no-auth")
    port = studio.url.rsplit(":", 1)[1]
    log = studio.log_path.read_text()
    assert f"WARNING: serving on 0.0.0.0:{port} WITHOUT A LOGIN (--insecure-no-auth)." in log
    assert "Set STUDIO_AUTH=USER:PASS or pass --auth-file FILE to require a login." in log
    assert httpx.get(f"{studio.url}/config", timeout=60).status_code == 200


def test_the_login_from_the_environment_or_a_file_is_not_on_the_command_line(
    launch_studio, authed
) -> None:
    from_env = launch_studio("--host", "0.0.0.0", env={"STUDIO_AUTH": f"bob:{PASSWORD}-env"})
    for studio, user, password in ((authed, USER, PASSWORD), (from_env, "bob", f"{PASSWORD}-env")):
        cmdline = Path(f"/proc/{studio.process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"app.py" in cmdline and b"--host" in cmdline
        assert not any(PASSWORD.encode() in argument for argument in cmdline), cmdline
        assert httpx.get(f"{studio.url}/config", timeout=60).status_code == 401
        refused = httpx.post(
            f"{studio.url}/login", data={"username": user, "password": "wrong"}, timeout=60
        )
        assert refused.status_code == 400
        with _logged_in(studio.url, user, password) as client:
            assert client.get("/config").status_code == 200


def _concrete(path: str) -> str:
    """A route path with each {parameter} filled in."""
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_but_the_login_page_answers_401_without_the_login(authed) -> None:
    with _logged_in(authed.url) as client:
        schema = client.get("/openapi.json").json()
    routes = {(verb.upper(), path) for path, item in schema["paths"].items() for verb in item}
    routes |= {("GET", "/openapi.json")}
    assert REPRESENTATIVE <= routes, REPRESENTATIVE - routes
    assert OPEN_ROUTES <= routes
    anonymous = httpx.Client(base_url=authed.url, timeout=60)
    gated = routes - OPEN_ROUTES
    assert len(gated) >= 60  # Gradio 6.31 registers about 80 routes
    for method, path in sorted(gated):
        response = anonymous.request(method, _concrete(path))
        assert response.status_code == 401, (method, path, response.status_code, response.text)
    page = anonymous.get("/")
    assert page.status_code == 200 and '"auth_required":true' in page.text
    for asset in re.findall(r'(?:src|href)="\./(assets/[^"]+\.(?:js|css))"', page.text)[:3]:
        assert anonymous.get(f"/{asset}").status_code == 200
    assert anonymous.get("/theme.css").status_code == 200
    # the open prefixes lead nowhere else: Gradio refuses to leave its own folders
    for escape in ("/assets/../config", "/static/%2e%2e/config"):
        assert _raw_get(authed.url, escape) == 403


def _raw_get(url: str, path: str) -> int:
    """The status of GET `path` sent as written (no client-side `..` folding)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def _dependency_id(config: dict, api_name: str) -> int:
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def test_the_login_cookie_opens_config_queue_cancel_upload_and_files(authed) -> None:
    anonymous = httpx.Client(base_url=authed.url, timeout=60)
    with _logged_in(authed.url) as client:
        config = client.get("/config").json()
        elem_ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
        assert "datasets-table" in elem_ids

        note = {"files": ("note.txt", b"uploaded text")}
        uploaded = client.post("/gradio_api/upload", files=note)
        assert uploaded.status_code == 200, uploaded.text
        served = f"/gradio_api/file={uploaded.json()[0]}"
        assert client.get(served).text == "uploaded text"
        assert anonymous.get(served).status_code == 401
        refused = anonymous.post("/gradio_api/upload", files={"files": ("n.txt", b"x")})
        assert refused.status_code == 401

        validate = _dependency_id(config, "do_validate")
        event = {
            "data": [],
            "event_data": None,
            "fn_index": validate,
            "trigger_id": None,
            "session_hash": "gate-test",
        }
        assert anonymous.post("/gradio_api/queue/join", json=event).status_code == 401
        joined = client.post("/gradio_api/queue/join", json=event)
        assert joined.status_code == 200 and joined.json()["event_id"]
        assert (
            anonymous.get(
                "/gradio_api/queue/data", params={"session_hash": "gate-test"}
            ).status_code
            == 401
        )
        messages = []
        with client.stream(
            "GET", "/gradio_api/queue/data", params={"session_hash": "gate-test"}
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    messages.append(json.loads(line[5:]))
                    if messages[-1].get("msg") == "process_completed":
                        break
        assert messages[-1]["success"], messages[-1]
        assert "Every dataset is valid." in json.dumps(messages[-1]["output"])

        cancel = {
            "session_hash": "gate-test",
            "fn_index": event["fn_index"],
            "event_id": joined.json()["event_id"],
        }
        assert anonymous.post("/gradio_api/cancel", json=cancel).status_code == 401
        assert client.post("/gradio_api/cancel", json=cancel).status_code == 200


@pytest.mark.browser
def test_the_page_asks_for_the_login_then_every_tab_works(authed, page) -> None:
    page.goto(authed.url)
    expect(page.get_by_role("button", name="Login")).to_be_visible()
    expect(page.get_by_role("tab", name="Datasets")).to_have_count(0)
    page.get_by_label("username").fill(USER)
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    for tab in ("Datasets", "Train", "Pairs", "Playground", "Evaluate"):
        expect(page.get_by_role("tab", name=tab)).to_be_visible()
    expect(table_row(page, "datasets-table", "demo_train")).to_have_count(1)
