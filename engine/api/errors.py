"""One shape for every error answer, ``{"detail": ..., "errors"?: [...], "problems"?: [...]}``.

Validation errors never echo the input (it may be large or hold something private); an
unexpected error answers 500 without details and is logged without the request body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("eiso.api")
_PARAMETER = re.compile(r"\{[^}]*\}")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemPublic(BaseModel):
    """One problem of a procedure file, as ``eiso procedures validate`` prints it."""

    file: str
    element_id: str | None
    message: str
    severity: str


class ErrorPublic(BaseModel):
    detail: str
    errors: list[FieldError] | None = None
    problems: list[ProblemPublic] | None = None


class ApiError(Exception):
    """An answer other than 2xx with a reason, raised anywhere below a route."""

    def __init__(self, status: int, detail: str, problems: list[ProblemPublic] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = problems
        self.headers = headers


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


_DOC = {"model": ErrorPublic}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_DOC, "description": "Malformed request body"},
    401: {**_DOC, "description": "No valid bearer token"},
    403: {**_DOC, "description": "The role may not do this"},
    413: {**_DOC, "description": "Request body too large"},
    422: {**_DOC, "description": "Invalid request: each field error in `errors`"},
    503: {**_DOC, "description": "Database unavailable; retry later"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {**_DOC, "description": "Not found, or outside the user's agencies"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {**_DOC, "description": "Not possible in the current state; `detail` says why"}}


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        ctx = error.get("ctx") or {}
        if error.get("type") == "json_invalid" and "error" in ctx:
            message = f"{message}: {ctx['error']}"
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        out.append(FieldError(loc=loc, msg=message, type=str(error.get("type", "invalid"))))
    return out


def _json(status: int, body: ErrorPublic, headers: dict[str, str] | None = None) -> JSONResponse:
    content: dict[str, Any] = {"detail": body.detail}
    if body.errors is not None:
        content["errors"] = [e.model_dump() for e in body.errors]
    if body.problems is not None:
        content["problems"] = [p.model_dump() for p in body.problems]
    return JSONResponse(status_code=status, content=content, headers=headers)


def install(app: FastAPI, routes: Callable[[], Iterable[Any]]) -> None:
    """The error answers of ``app``; ``routes`` lists its operations (for a 405's ``Allow``)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        summary = "; ".join(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in errors[:5])
        return _json(422, ErrorPublic(detail=f"invalid request: {summary}"[:2000], errors=errors[:100]))

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, ErrorPublic(detail=exc.detail, problems=exc.problems), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(routes(), request.url.path))
        return _json(exc.status_code, ErrorPublic(detail=str(exc.detail)), headers or None)

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc.orig).__name__)
        return _json(503, ErrorPublic(detail="the database is unavailable; retry later"), {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _json(500, ErrorPublic(detail="internal error"))


def allowed_methods(routes: Iterable[Any], path: str) -> list[str]:
    """The methods of the route template that ``path`` belongs to, for a 405's ``Allow``.

    Starlette names the methods of the first route whose path matches; with ``{key:path}``
    parameters, ``/nonconformities/K/cause`` also matches ``GET /nonconformities/{key}``, so it
    said ``Allow: GET`` for a POST-only resource. The template with the most literal text wins.
    """
    best: tuple[int, set[str]] = (-1, set())
    for route in routes:
        regex, methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is None or not methods or not regex.match(path):
            continue
        literal = len(_PARAMETER.sub("", getattr(route, "path_format", "")))
        if literal > best[0]:
            best = (literal, set(methods))
        elif literal == best[0]:
            best[1].update(methods)
    return sorted(best[1])
