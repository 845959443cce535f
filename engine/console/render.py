"""Pages from the package's Jinja2 templates, with autoescaping on: user text is never markup."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from engine.console.i18n import Translator

STATIC = "/console/static"

ENVIRONMENT = Environment(loader=PackageLoader("engine.console", "templates"),
                          autoescape=select_autoescape(default=True, default_for_string=True),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the frame's context: the translator ``t``, the signed-in user (if any),
    the CSRF token, the language and the static path."""
    state = request.state
    t: Translator = state.translator
    values: dict[str, Any] = {
        "t": t, "lang": t.language, "user": getattr(state, "user", None), "csrf": getattr(state, "csrf", ""),
        "static": STATIC, "path": request.url.path, "query": str(request.url.query),
        "grafana_url": request.app.state.console_settings.grafana_url, "request": request,
    }
    values.update(context)
    html = ENVIRONMENT.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)
