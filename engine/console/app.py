"""The web console: a FastAPI application mounted at ``/console`` of ``eiso serve``'s API, with
the same users, roles and agency scopes. ``/`` of the API sends a browser here.

Pages are rendered on the server (``engine.console.render``); their scripts and styles, bpmn-js
included, are served from the package (``/console/static``): no CDN, no Node.js. Every page
calls the same application layer and reporting module as the CLI and the API.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.api.app import create_app
from engine.api.deps import Principal
from engine.api.oidc import OidcVerifier
from engine.api.settings import ApiSettings
from engine.bootstrap import App
from engine.console.auth import CsrfRefused, Forbidden, SignInRequired, signin_url
from engine.console.cookies import LANGUAGE as LANGUAGE_COOKIE
from engine.console.cookies import SESSION as COOKIE
from engine.console.cookies import SIGNIN as SIGNIN_COOKIE
from engine.console.cookies import secure
from engine.console.i18n import Translator, language_of
from engine.console.pages import (
    audit,
    cases,
    home,
    migration,
    modeller,
    nonconformities,
    procedures,
    reports,
    review,
    signin,
)
from engine.console.render import page
from engine.console.sessions import find_session
from engine.console.settings import ConsoleSettings

log = logging.getLogger("eiso.console")

PREFIX = "/console"
ROUTERS = (signin.router, home.router, procedures.router, cases.router, nonconformities.router, reports.router,
           audit.router, modeller.router, migration.router, review.router)
# No inline script anywhere: a page's data travels in data- attributes or JSON script blocks.
# bpmn-js styles its SVG through style attributes, hence 'unsafe-inline' for styles only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def create_console(eiso: App, api_settings: ApiSettings | None = None,
                   settings: ConsoleSettings | None = None) -> FastAPI:
    api_settings = api_settings or ApiSettings()
    console = FastAPI(title="eiso console", docs_url=None, redoc_url=None, openapi_url=None,
                      redirect_slashes=False)
    console.state.eiso = eiso
    console.state.console_settings = settings or ConsoleSettings()
    console.state.api_settings = api_settings
    console.state.oidc = OidcVerifier(api_settings) if api_settings.oidc_enabled else None
    console.state.writer_lock = threading.Lock()  # mount() hands it the API's: one writer per process
    for router in ROUTERS:
        console.include_router(router)
    console.mount("/static", StaticFiles(packages=[("engine.console", "static")]), name="console-static")
    _install_errors(console)
    console.middleware("http")(_frame)
    return console


def create_site(eiso: App, api_settings: ApiSettings | None = None,
                settings: ConsoleSettings | None = None) -> FastAPI:
    """What `eiso serve` runs: the API (``engine.api.create_app``) with the console at /console."""
    api_settings = api_settings or ApiSettings()
    api = create_app(eiso, api_settings)
    mount(api, eiso, api_settings, settings)
    return api


def mount(api: FastAPI, eiso: App, api_settings: ApiSettings, settings: ConsoleSettings | None = None) -> None:
    """Serve the console at /console of ``api`` and send a browser at / there."""
    console = create_console(eiso, api_settings, settings)
    console.state.writer_lock = api.state.writer_lock  # the modeller deploys under the API's writer lock
    api.mount(PREFIX, console)

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=303)

    @api.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/static/favicon.svg", status_code=301)

    @api.get(PREFIX, include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=303)


async def _frame(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Per request: the language, the signed-in user, the CSRF token; security headers on the answer."""
    eiso: App = request.app.state.eiso
    settings: ConsoleSettings = request.app.state.console_settings
    language = language_of(request.cookies.get(LANGUAGE_COOKIE), language_of(settings.language))
    request.state.translator = Translator(language, eiso.calendar.zone)
    request.state.user = None
    request.state.csrf = ""
    new_signin_token = None
    if not request.url.path.startswith(PREFIX + "/static/"):
        try:
            found = await run_in_threadpool(find_session, eiso.engine, request.cookies.get(COOKIE), eiso.clock.now())
        except OperationalError:
            found = None
            request.state.database_down = True
        if found is not None:
            request.state.user = Principal(found.name, found.role, found.scope)
            request.state.csrf = found.csrf
        else:
            request.state.csrf = request.cookies.get(SIGNIN_COOKIE) or ""
            if not request.state.csrf:
                new_signin_token = request.state.csrf = secrets.token_urlsafe(24)
    response = await call_next(request)
    if new_signin_token is not None:
        response.set_cookie(SIGNIN_COOKIE, new_signin_token, httponly=True, samesite="lax", secure=secure(request),
                            path=PREFIX)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.url.path.startswith(PREFIX + "/static/"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def _error(request: Request, status: int, message: str, **extra: Any) -> Response:
    if not hasattr(request.state, "translator"):  # failed before the frame ran
        return Response(status_code=status)
    return page(request, "error.html", status=status, status_code=status, message=message, **extra)


def _install_errors(console: FastAPI) -> None:
    @console.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(signin_url(exc.next_url), status_code=303)

    @console.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, exc.message)

    @console.exception_handler(CsrfRefused)
    async def csrf(request: Request, exc: CsrfRefused) -> Response:
        return _error(request, 403, "error.csrf")

    @console.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, "error.422")

    @console.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        key = f"error.{status}" if status in (403, 404, 405, 422) else "error.500"
        response = _error(request, status, key)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @console.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> Response:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc.orig).__name__)
        response = _error(request, 503, "error.503")
        response.headers["Retry-After"] = "5"
        return response

    @console.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(request, 500, "error.500")
