"""Sign-in (an API token, or the OIDC issuer's login), sign-out and the language switch."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from engine.api.oidc import OidcRefused, OidcVerifier
from engine.api.roles import UNSCOPED
from engine.api.users import PREFIX, find_by_token, token_hash
from engine.bootstrap import App
from engine.console.auth import CsrfRefused, check_csrf, safe_next
from engine.console.cookies import LANGUAGE as LANGUAGE_COOKIE
from engine.console.cookies import OIDC as OIDC_COOKIE
from engine.console.cookies import SESSION as COOKIE
from engine.console.cookies import secure
from engine.console.render import page
from engine.console.sessions import close_session, open_session
from engine.console.settings import ConsoleSettings

log = logging.getLogger("eiso.console.auth")
router = APIRouter()

MAX_TOKEN = 8192


def _signed_in(request: Request, secret: str, lifetime: timedelta, next_url: str) -> Response:
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(COOKIE, secret, max_age=int(lifetime.total_seconds()), httponly=True, samesite="lax",
                        secure=secure(request), path="/")
    return response


def _lifetime(request: Request) -> timedelta:
    settings: ConsoleSettings = request.app.state.console_settings
    return timedelta(hours=settings.session_hours)


@router.get("/signin", include_in_schema=False)
def signin_form(request: Request, next: str = "/console/", expired: bool = False) -> Response:
    settings: ConsoleSettings = request.app.state.console_settings
    notice = "signin.expired" if expired else None
    return page(request, "signin.html", next=safe_next(next), error=None, notice=notice,
                oidc=request.app.state.oidc is not None and settings.oidc_client_id is not None)


@router.post("/signin", include_in_schema=False)
async def signin(request: Request) -> Response:
    form = await request.form()
    next_url = safe_next(str(form.get("next") or "/console/"))
    settings: ConsoleSettings = request.app.state.console_settings
    oidc = request.app.state.oidc is not None and settings.oidc_client_id is not None
    try:
        check_csrf(request, form.get("csrf"))
    except CsrfRefused:
        return page(request, "signin.html", status=403, next=next_url, error="signin.csrf", notice=None, oidc=oidc)
    token = str(form.get("token") or "").strip()
    if not token:
        return page(request, "signin.html", status=422, next=next_url, error="signin.empty", notice=None, oidc=oidc)
    eiso: App = request.app.state.eiso
    lifetime = _lifetime(request)
    now = eiso.clock.now()
    if token.startswith(PREFIX) and len(token) <= MAX_TOKEN:
        user = await run_in_threadpool(find_by_token, eiso.engine, token)
        if user is not None:
            agencies = () if user.role in UNSCOPED else tuple(user.agencies)
            secret = await run_in_threadpool(open_session, eiso.engine, user.name, user.role, agencies,
                                             token_hash(token), now, lifetime)
            log.info("console sign-in of %s (%s)", user.name, user.role.value)
            return _signed_in(request, secret, lifetime, next_url)
    elif request.app.state.oidc is not None and len(token) <= MAX_TOKEN:
        verifier: OidcVerifier = request.app.state.oidc
        try:
            identity = await run_in_threadpool(verifier.verify, token)
        except OidcRefused as err:
            log.info("console sign-in refused an OIDC token: %s", err)
        else:
            agencies = () if identity.role in UNSCOPED else identity.agencies
            secret = await run_in_threadpool(open_session, eiso.engine, identity.name, identity.role, agencies,
                                             None, now, lifetime)
            return _signed_in(request, secret, lifetime, next_url)
    log.info("console sign-in refused")
    return page(request, "signin.html", status=401, next=next_url, error="signin.refused", notice=None, oidc=oidc)


@router.post("/signout", include_in_schema=False)
async def signout(request: Request) -> Response:
    form = await request.form()
    if request.state.user is not None:
        check_csrf(request, form.get("csrf"))
        eiso: App = request.app.state.eiso
        await run_in_threadpool(close_session, eiso.engine, request.cookies.get(COOKIE))
    response = RedirectResponse("/console/signin?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/lang/{language}", include_in_schema=False)
def switch_language(request: Request, language: str, next: str = "/console/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if language in ("vi", "en"):
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax", path="/",
                            secure=secure(request))
    return response


# OIDC: the authorization code flow with PKCE (RFC 7636). The issuer's token is checked by the API's
# verifier, so the console accepts exactly the identities the API accepts.

def _endpoints(request: Request) -> tuple[str, str]:
    settings: ConsoleSettings = request.app.state.console_settings
    authorization, token = settings.oidc_authorization_url, settings.oidc_token_url
    if authorization and token:
        return authorization, token
    cached: tuple[str, str] | None = getattr(request.app.state, "oidc_endpoints", None)
    if cached is not None:
        return cached
    issuer = request.app.state.api_settings.oidc_issuer.rstrip("/")
    with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=10) as answer:
        document: dict[str, Any] = json.load(answer)
    found = (authorization or str(document["authorization_endpoint"]), token or str(document["token_endpoint"]))
    request.app.state.oidc_endpoints = found
    return found


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get("/signin/oidc", include_in_schema=False)
async def oidc_start(request: Request, next: str = "/console/") -> Response:
    settings: ConsoleSettings = request.app.state.console_settings
    if request.app.state.oidc is None or not settings.oidc_client_id:
        return RedirectResponse("/console/signin", status_code=303)
    try:
        authorization, _ = await run_in_threadpool(_endpoints, request)
    except (OSError, ValueError, KeyError) as err:
        log.warning("OIDC discovery failed: %s", err)
        return page(request, "signin.html", status=502, next=safe_next(next), notice=None, oidc=True,
                    error="signin.oidc_failed", reason=type(err).__name__)
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": settings.oidc_client_id, "redirect_uri": _callback_url(request),
        "scope": settings.oidc_scope, "state": state, "code_challenge": challenge,
        "code_challenge_method": "S256"})
    response = RedirectResponse(f"{authorization}?{query}", status_code=303)
    response.set_cookie(OIDC_COOKIE, json.dumps([state, verifier, safe_next(next)]), max_age=600, httponly=True,
                        samesite="lax", secure=secure(request), path="/console/signin")
    return response


def _exchange(request: Request, code: str, verifier: str) -> dict[str, Any]:
    settings: ConsoleSettings = request.app.state.console_settings
    _, token_url = _endpoints(request)
    fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": _callback_url(request),
              "client_id": settings.oidc_client_id or "", "code_verifier": verifier}
    if settings.oidc_client_secret:
        fields["client_secret"] = settings.oidc_client_secret
    body = urllib.parse.urlencode(fields).encode()
    call = urllib.request.Request(token_url, data=body, method="POST",
                                  headers={"Content-Type": "application/x-www-form-urlencoded",
                                           "Accept": "application/json"})
    with urllib.request.urlopen(call, timeout=10) as answer:
        found: dict[str, Any] = json.load(answer)
    return found


@router.get("/signin/oidc/callback", name="oidc_callback", include_in_schema=False)
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    def failed(reason: str) -> Response:
        return page(request, "signin.html", status=401, next="/console/", notice=None, oidc=True,
                    error="signin.oidc_failed", reason=reason)

    try:
        expected, verifier, next_url = json.loads(request.cookies.get(OIDC_COOKIE) or "[]")
    except (ValueError, TypeError):
        return failed("state")
    if not code or not state or not isinstance(expected, str) or not secrets.compare_digest(state, expected):
        return failed("state")
    oidc: OidcVerifier | None = request.app.state.oidc
    if oidc is None:
        return failed("OIDC")
    try:
        tokens = await run_in_threadpool(_exchange, request, code, str(verifier))
    except (OSError, ValueError, KeyError) as err:
        log.warning("OIDC code exchange failed: %s", err)
        return failed(type(err).__name__)
    identity = None
    reason = "token"
    for name in ("id_token", "access_token"):
        candidate = tokens.get(name)
        if isinstance(candidate, str) and candidate:
            try:
                identity = await run_in_threadpool(oidc.verify, candidate)
                break
            except OidcRefused as err:
                reason = str(err)
    if identity is None:
        return failed(reason)
    eiso: App = request.app.state.eiso
    lifetime = _lifetime(request)
    agencies = () if identity.role in UNSCOPED else identity.agencies
    secret = await run_in_threadpool(open_session, eiso.engine, identity.name, identity.role, agencies, None,
                                     eiso.clock.now(), lifetime)
    response = _signed_in(request, secret, lifetime, str(next_url))
    response.delete_cookie(OIDC_COOKIE, path="/console/signin")
    return response
