"""Who is at the browser, and what they may do: the console's one place for sign-in checks,
roles and CSRF. The roles and agency scopes are the API's (``engine.api.roles``, ``AgencyScope``):
a page shows exactly what the same user's token would get from the API.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from engine.api.deps import Principal
from engine.api.roles import Role


class SignInRequired(Exception):
    """No live session: the browser goes to sign-in, then back to ``next``."""

    def __init__(self, next_url: str):
        self.next_url = next_url


class Forbidden(Exception):
    """Signed in, but the role may not do this (``message`` is a message key)."""

    def __init__(self, message: str = "error.403"):
        self.message = message


class CsrfRefused(Exception):
    """A form without the session's CSRF token, or from another origin."""


def safe_next(url: str | None) -> str:
    """A path of the console to go back to, never another site (``//evil``, ``https://...``, ``\\\\``)."""
    if not url or not url.startswith("/console") or url.startswith("//") or "\\" in url:
        return "/console/"
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return "/console/"
    return url


def signin_url(next_url: str) -> str:
    return "/console/signin?next=" + quote(safe_next(next_url), safe="/")


def signed_in(request: Request) -> Principal:
    user: Principal | None = getattr(request.state, "user", None)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return user


PageUser = Annotated[Principal, Depends(signed_in)]


def require(user: Principal, allowed: frozenset[Role]) -> None:
    if user.role not in allowed:
        raise Forbidden()


def may(user: Principal, allowed: frozenset[Role]) -> bool:
    return user.role in allowed


def check_csrf(request: Request, token: object) -> None:
    """The form's ``csrf`` field must be the session's token, and the request must come from this origin."""
    expected: str = getattr(request.state, "csrf", "")
    if not expected or not isinstance(token, str) or not hmac.compare_digest(token.encode(), expected.encode()):
        raise CsrfRefused()
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise CsrfRefused()
