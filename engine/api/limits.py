"""Request guards in front of the routes: body size limits (413) and NUL characters (422).

The limit is checked on ``Content-Length`` before anything is read and again on the bytes
as they stream in (a chunked body has no length), so a huge body is never held in memory.
PostgreSQL cannot store a NUL character in text; one in the path or query is refused here
so that no route ever hands one to the database.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.api.settings import ApiSettings

# Routes that take a BPMN file (larger limit than JSON).
BPMN_PATHS = frozenset({"/procedures", "/procedures/validate"})
# What the OpenAPI document says of every text parameter of the query (the guard below refuses a NUL there and
# in the path).
NO_NUL_PATTERN = "^[^\\x00]*$"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body too large: the limit is {limit:,} bytes")


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: ApiSettings):
        self.app = app
        self.settings = settings

    def limit(self, scope: Scope) -> int:
        is_bpmn = scope.get("method") == "POST" and scope.get("path") in BPMN_PATHS
        return self.settings.max_bpmn_bytes if is_bpmn else self.settings.max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"").lower():
            await _answer(send, 422, "NUL characters are not allowed in the path or query")
            return
        limit = self.limit(scope)
        length = _content_length(scope)
        if length is not None and length > limit:
            await _answer(send, 413, f"request body too large: the limit is {limit:,} bytes")
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
