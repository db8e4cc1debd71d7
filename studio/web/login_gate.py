"""One gate in front of every route of the served studio when a login is required.

Gradio checks its login cookie on some routes only (not, for instance, on
/gradio_api/cancel). The gate asks Gradio's own check, the /gradio_api/login_check route,
about every request but the login page and the files that page loads, and answers 401
when it says no. The check is reached through `gradio_accepts_login`, the one place that
relies on how Gradio answers it; `verify_gate` fails loudly at start when that changed.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from studio.errors import StudioError

LOG = logging.getLogger("studio.ui")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOGIN_CHECK_PATH = "/gradio_api/login_check"
# what the login page needs before anyone has logged in (GET "/" is Gradio's login page then)
OPEN_ROUTES = frozenset(
    {
        ("GET", "/"),
        ("HEAD", "/"),
        ("POST", "/login"),
        ("POST", "/login/"),
        ("GET", "/favicon.ico"),
        ("GET", "/theme.css"),
        ("GET", "/gradio_api/startup-events"),  # idempotent; Gradio's launch calls it itself
    }
)
OPEN_PREFIXES = ("/assets/", "/static/")  # Gradio's own front-end files
UNAUTHORIZED = {"detail": "Not authenticated: log in at / first"}


class GradioLoginCheckChanged(RuntimeError):
    """Gradio's login check no longer answers as the gate expects."""


def is_open(scope: Scope) -> bool:
    """Whether the request is one the login page needs (so it passes without a login)."""
    method, path = scope.get("method", ""), scope.get("path", "")
    if (method, path) in OPEN_ROUTES:
        return True
    return method in ("GET", "HEAD") and path.startswith(OPEN_PREFIXES)


async def gradio_accepts_login(app: ASGIApp, scope: Scope) -> bool:
    """Whether Gradio's login check accepts the cookies of `scope`.

    Calls `app` (the routes behind the gate) with GET /gradio_api/login_check and the same
    cookies: Gradio answers 200 for a valid session and 401 otherwise (Gradio 6.31). Any
    other answer raises GradioLoginCheckChanged.
    """
    probe = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https" if scope.get("scheme") in ("https", "wss") else "http",
        "path": LOGIN_CHECK_PATH,
        "raw_path": LOGIN_CHECK_PATH.encode(),
        "query_string": b"",
        "root_path": scope.get("root_path", ""),
        "client": scope.get("client"),
        "server": scope.get("server"),
        "app": scope.get("app"),
        "state": {},
        "headers": [(name, value) for name, value in scope.get("headers", []) if name == b"cookie"],
    }
    statuses: list[int] = []
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if requested:
            return {"type": "http.disconnect"}
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(probe, receive, send)
    if statuses == [200]:
        return True
    if statuses == [401]:
        return False
    raise GradioLoginCheckChanged(
        f"Gradio answered {statuses or 'nothing'} to {LOGIN_CHECK_PATH}, not 200 or 401 as "
        "Gradio 6.31 does; install the Gradio version requirements.txt names, or adapt "
        "studio/web/login_gate.py to the new one"
    )


async def _respond(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class LoginGate:
    """ASGI middleware: requests without a valid Gradio login get 401 (websockets: close 1008)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_open(scope):
            await self.app(scope, receive, send)
            return
        try:
            allowed = await gradio_accepts_login(self.app, scope)
        except GradioLoginCheckChanged as error:
            LOG.error("login gate: %s", error)
            allowed, failure = False, {"detail": str(error)}
        else:
            failure = UNAUTHORIZED
        if allowed:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await _respond(send, 401 if failure is UNAUTHORIZED else 500, failure)


def verify_gate(url: str) -> None:
    """Check the served studio at `url` turns away a request without a login (GET /config);
    a StudioError saying what changed otherwise."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no http_proxy
    try:
        with direct.open(url.rstrip("/") + "/config", timeout=30) as response:
            status, body = response.status, response.read(300)
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read(300)
    if status != 401:
        raise StudioError(
            f"the login gate let a request without a login reach /config "
            f"(HTTP {status}: {body.decode(errors='replace')}); "
            "the studio stops instead of serving"
        )
