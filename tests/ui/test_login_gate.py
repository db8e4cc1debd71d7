"""The login gate's contract with Gradio fails loudly when Gradio stops answering as 6.31 does.

The gate itself in front of the real studio is tested in test_serve_access.py; here it stands
in front of small Starlette apps that answer /gradio_api/login_check as a changed Gradio would,
and verify_gate is asked about a server that lets anonymous requests through.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from studio.errors import StudioError
from studio.web.login_gate import LOGIN_CHECK_PATH, LoginGate, verify_gate


def _gated(login_check_status: int | None) -> LoginGate:
    """A gated app whose login check answers `login_check_status` (None: no such route), or
    200 when the request carries the cookie `session=good`."""

    async def login_check(request: Request) -> JSONResponse:
        if request.cookies.get("session") == "good":
            return JSONResponse(None)
        return JSONResponse({"error": "Not authenticated"}, status_code=login_check_status)

    async def secret(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("secret rows")

    routes = [Route("/config", secret), Route("/assets/app.js", secret)]
    if login_check_status is not None:
        routes.append(Route(LOGIN_CHECK_PATH, login_check))
    return LoginGate(Starlette(routes=routes))


def _request(app: LoginGate, path: str, method: str = "GET", cookie: str = "") -> tuple[int, str]:
    """(status, body) of one HTTP request sent straight to the ASGI app."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "headers": [(b"cookie", cookie.encode())] if cookie else [],
    }
    answer: dict = {"body": b""}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    # A thread of its own: a browser test earlier in the session may leave an event loop
    # running in this one, where asyncio.run refuses to start.
    worker = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    worker.start()
    worker.join()
    return answer["status"], answer["body"].decode()


def test_the_gate_follows_the_login_check_answer() -> None:
    app = _gated(401)
    status, body = _request(app, "/config")
    assert status == 401 and "secret" not in body
    assert _request(app, "/config", cookie="session=good") == (200, "secret rows")
    assert _request(app, "/assets/app.js") == (200, "secret rows")  # the login page's files
    assert _request(app, "/config", method="POST")[0] == 401


@pytest.mark.parametrize("changed", [None, 403, 302])
def test_a_changed_login_check_fails_closed_naming_the_fix(changed: int | None) -> None:
    status, body = _request(_gated(changed), "/config")
    assert status == 500 and "secret" not in body
    detail = json.loads(body)["detail"]
    assert f"to {LOGIN_CHECK_PATH}, not 200 or 401 as Gradio 6.31 does" in detail
    assert "studio/web/login_gate.py" in detail


@pytest.fixture
def open_server() -> Iterator[str]:
    """An HTTP server whose /config answers 200 to anyone (a gate that is not there)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"components": []}')

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_verify_gate_refuses_a_server_that_answers_anonymous_requests(open_server: str) -> None:
    with pytest.raises(StudioError, match=r"without a login reach /config \(HTTP 200"):
        verify_gate(open_server)
