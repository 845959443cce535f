"""The console's cookies: names, and when they are marked Secure."""

from __future__ import annotations

from fastapi import Request

SESSION = "eiso_session"
LANGUAGE = "eiso_lang"
SIGNIN = "eiso_signin"  # the sign-in form's CSRF token, before there is a session
OIDC = "eiso_oidc"


def secure(request: Request) -> bool:
    """Secure when configured so, else when the request came over HTTPS."""
    configured: bool | None = request.app.state.console_settings.secure_cookies
    return configured if configured is not None else request.url.scheme == "https"
