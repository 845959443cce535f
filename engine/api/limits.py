"""Request guards in front of the routes: body size limits (413) and NUL characters (422).

The limit is checked on ``Content-Length`` before anything is read and again on the bytes
as they stream in (a chunked body has no length), so a huge body is never held in memory.
PostgreSQL cannot store a NUL character in text; one in the path or query is refused here
so that no route ever hands one to the database.
"""

from __future__ import annotations

import html
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.api.settings import ApiSettings

# Routes that take a BPMN file (larger limit than JSON).
BPMN_PATHS = frozenset({"/procedures", "/procedures/validate"})
# The console's modeller sends the same files as JSON text (escaped: up to twice as long); it refuses a file over
# the BPMN limit itself, with its own message, so this outer bound only stops what is far beyond.
CONSOLE_BPMN_PATHS = frozenset({"/console/modeller/validate", "/console/modeller/deploy"})
# What the OpenAPI document says of every text parameter of the query (the guard below refuses a NUL there and
# in the path).
NO_NUL_PATTERN = "^[^\\x00]*$"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body too large: the limit is {limit:,} bytes")


async def _answer(send: Send, status: int, detail: str, page: bool = False) -> None:
    """The refusal as JSON, or, for a page of the web console (``page``: not one of its JSON calls), as a short
    HTML page."""
    if page:
        body = (f"<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>{status}</title>"
                f"<p>Yêu cầu không hợp lệ / Invalid request: {html.escape(detail)}</p>"
                "<p><a href=\"/console/\">eiso</a></p></html>").encode()
        kind = b"text/html; charset=utf-8"
    else:
        body, kind = json.dumps({"detail": detail}).encode(), b"application/json"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _console_page(scope: Scope) -> bool:
    """A request for a page (or a form) of the web console, which answers HTML; its JSON calls answer JSON."""
    if not str(scope.get("path", "")).startswith("/console"):
        return False
    kind = dict(scope.get("headers") or []).get(b"content-type", b"")
    return not kind.startswith(b"application/json")


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: ApiSettings):
        self.app = app
        self.settings = settings

    def limit(self, scope: Scope) -> int:
        post, path = scope.get("method") == "POST", scope.get("path")
        if post and path in CONSOLE_BPMN_PATHS:
            return max(2 * self.settings.max_bpmn_bytes + 65536, self.settings.max_json_bytes)
        return self.settings.max_bpmn_bytes if post and path in BPMN_PATHS else self.settings.max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"").lower():
            await _answer(send, 422, "NUL characters are not allowed in the path or query",
                          page=_console_page(scope))
            return
        limit = self.limit(scope)
        length = _content_length(scope)
        if length is not None and length > limit:
            await _answer(send, 413, f"request body too large: the limit is {limit:,} bytes",
                          page=_console_page(scope))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
