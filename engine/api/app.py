"""The FastAPI application: routers, error answers, request guards, CORS, OpenAPI.

``create_app(eiso)`` takes the application wired by ``engine.bootstrap.build``; `eiso serve`
and the tests build it the same way.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from engine.api import errors
from engine.api.deps import Allow
from engine.api.limits import NO_NUL_PATTERN, RequestGuard
from engine.api.oidc import OidcVerifier
from engine.api.routers import audit, cases, events, nonconformities, procedures, reports, system
from engine.api.settings import ApiSettings
from engine.bootstrap import App
from monitoring import install
from monitoring.http import metrics_route
from monitoring.settings import MonitoringSettings

DESCRIPTION = """\
eiso holds every one-stop-shop case to its ISO 9001 procedure (BPMN) in legal working time.

Authenticate with `Authorization: Bearer <token>`: an API token made by `eiso users create`,
or an OIDC JWT when `EISO_API_OIDC_ISSUER` is set. Each operation lists the roles it allows.
A user bound to agency codes sees only those agencies and the codes below them; admins and
auditors see every agency. Times are RFC 3339 in the calendar's time zone.

Rules every operation checks (the parameters' patterns and bounds say the same): dates and times
are ISO 8601 text (a date, or a date and time with an optional offset; none means the calendar's
zone) in the years 1970-2200; agency codes are written like `000.00.12.H10`; text never holds a
NUL character or a lone surrogate; a report covers at most three years. Lists come a bounded
page at a time (`limit`, and `offset` or the timeline's `after`). Corrective-action steps take
`If-Match` with the record's `ETag`: a stale one answers 409.
"""

ROUTERS = (system.public_router, system.router, procedures.router, cases.router, nonconformities.router,
           audit.router, reports.router, events.router)


def route_roles(route: APIRoute) -> frozenset[str] | None:
    """The roles an operation allows (None: no token needed), read from its ``Allow`` dependency."""
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, Allow):
            return frozenset(role.value for role in dependency.call.roles)
    return None


def create_app(eiso: App, settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    api = FastAPI(title="eiso", version="1", description=DESCRIPTION, redirect_slashes=False, docs_url=None,
                  redoc_url=None)
    api.state.eiso = eiso
    api.state.api_settings = settings
    api.state.oidc = OidcVerifier(settings) if settings.oidc_enabled else None
    # One writer in this process: the case service keeps cases in memory between events.
    api.state.writer_lock = threading.Lock()
    for router in ROUTERS:
        authenticated = router is not system.public_router
        responses: dict[int | str, dict[str, Any]] = dict(errors.COMMON_RESPONSES)
        if not authenticated:
            responses = {k: v for k, v in responses.items() if k not in (401, 403)}
        api.include_router(router, responses=responses)
    _mount_metrics(api, eiso)
    _mount_docs(api)
    errors.install(api, api_routes)
    api.add_middleware(RequestGuard, settings=settings)
    if settings.origins:
        api.add_middleware(CORSMiddleware, allow_origins=settings.origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], allow_credentials=False)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api


def _mount_metrics(api: FastAPI, eiso: App) -> None:
    """Prometheus metrics at /metrics (no token: a scraper on the private network reads it).

    This process's own counters; the gauges read from the database come from `eiso metrics
    serve` unless EISO_METRICS_DATABASE=true (one exporter per deployment).
    """
    metrics = install(eiso, database=bool(MonitoringSettings().database))
    api.router.routes.append(metrics_route(metrics.registry))


DOCS_ASSETS = "/docs-assets"


def _mount_docs(api: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc, their scripts and styles served from the installed
    fastapi-offline package, never a CDN: agencies' intranets are often offline."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    api.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")
    openapi_url = api.openapi_url or "/openapi.json"
    oauth2_redirect = api.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @api.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title="eiso - Swagger UI",
                                   oauth2_redirect_url=oauth2_redirect,
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")

    @api.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @api.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title="eiso - ReDoc",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


def api_routes() -> list[APIRoute]:
    """Every operation of the API (each router's routes carry their prefix)."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def _openapi(api: FastAPI) -> dict[str, Any]:
    if api.openapi_schema:
        return api.openapi_schema
    schema = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    for route in api_routes():
        roles = route_roles(route)
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            operation["x-eiso-roles"] = sorted(roles) if roles is not None else []
            who = ", ".join(sorted(roles)) if roles is not None else "anyone, no token"
            operation["description"] = (operation.get("description") or "") + f"\n\nRoles: {who}."
    for path in schema["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _not_null(parameter["schema"])
                if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                    parameter["schema"].setdefault("pattern", NO_NUL_PATTERN)
    api.openapi_schema = schema
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without FastAPI's ``anyOf [..., null]`` for an optional one.

    A query parameter or header is absent or text, never JSON null: a client reading the null branch
    sends the text "null", which the server rightly refuses.
    """
    choices = schema.get("anyOf")
    if not isinstance(choices, list):
        return schema
    kept = [c for c in choices if c != {"type": "null"}]
    if len(kept) == len(choices):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
