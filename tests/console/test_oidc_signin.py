"""Signing in to the console through the OIDC issuer: the authorization code flow with PKCE, the issuer's
token checked by the API's own verifier (so the console accepts exactly the identities the API accepts).

The issuer is local: its token endpoint is a loopback HTTP server that checks the code and the PKCE
verifier against the challenge the console sent, and answers with an ID token signed by the test key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from engine.api.settings import ApiSettings
from engine.console.app import create_site
from engine.console.settings import ConsoleSettings
from tests.api.support import OTHER_CASE, OWN_CASE
from tests.api.test_security import AUDIENCE, ISSUER, Issuer
from tests.console.support import Console

AUTHORIZE = "https://login.example.gov.vn/realms/eiso/protocol/openid-connect/auth"


@dataclass
class TokenEndpoint:
    """The issuer's token endpoint: one code, its PKCE challenge, the token it answers with."""

    issuer: Issuer
    challenge: str = ""
    token: str = ""
    seen: list[dict[str, str]] = field(default_factory=list)


def _serve(endpoint: TokenEndpoint) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            endpoint.seen.append(form)
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if form.get("code") != "the-code" or digest != endpoint.challenge:
                body, status = b'{"error": "invalid_grant"}', 400
            else:
                body, status = json.dumps({"id_token": endpoint.token, "token_type": "Bearer"}).encode(), 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def oidc_site(console: Console, tmp_path: Path) -> Iterator[tuple[TestClient, TokenEndpoint]]:
    issuer = Issuer(tmp_path)
    endpoint = TokenEndpoint(issuer, token=issuer.token())
    server = _serve(endpoint)
    api = ApiSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_file=issuer.jwks)
    settings = ConsoleSettings(oidc_client_id="eiso-console", oidc_authorization_url=AUTHORIZE,
                               oidc_token_url=f"http://127.0.0.1:{server.server_address[1]}/token")
    with TestClient(create_site(console.world.eiso, api, settings)) as browser:
        yield browser, endpoint
    server.shutdown()


def _to_issuer(browser: TestClient, endpoint: TokenEndpoint, next_url: str = "/console/cases") -> dict[str, str]:
    """Follow the console to the issuer's login; note the PKCE challenge; the query the issuer got."""
    start = browser.get(f"/console/signin/oidc?next={urllib.parse.quote(next_url)}", follow_redirects=False)
    assert start.status_code == 303
    location = start.headers["location"]
    assert location.startswith(AUTHORIZE + "?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert query["response_type"] == "code" and query["client_id"] == "eiso-console"
    assert query["code_challenge_method"] == "S256" and query["redirect_uri"].endswith("/console/signin/oidc/callback")
    endpoint.challenge = query["code_challenge"]
    return query


def test_the_sign_in_page_offers_the_issuer(oidc_site: Any) -> None:
    browser, _ = oidc_site
    assert "/console/signin/oidc" in browser.get("/console/signin").text


def test_the_issuer_signs_a_person_in_with_their_role_and_agencies(oidc_site: Any) -> None:
    browser, endpoint = oidc_site
    query = _to_issuer(browser, endpoint)
    back = browser.get(f"/console/signin/oidc/callback?code=the-code&state={query['state']}",
                       follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/console/cases", back.text
    assert "eiso_session=" in back.headers["set-cookie"]
    assert endpoint.seen[-1]["redirect_uri"] == query["redirect_uri"]  # the same one, as RFC 6749 requires
    home = browser.get("/console/")
    assert "oidc:nguyen.van.a" in home.text and "lãnh đạo" in home.text
    assert browser.get(f"/console/cases/{OWN_CASE}").status_code == 200
    assert browser.get(f"/console/cases/{OTHER_CASE}").status_code == 404  # bound to the token's agencies


@pytest.mark.parametrize("fault", ["state", "code", "no-cookie", "foreign-key", "expired"])
def test_a_faulty_answer_is_refused_on_the_sign_in_page(oidc_site: Any, fault: str) -> None:
    browser, endpoint = oidc_site
    query = _to_issuer(browser, endpoint)
    state, code = query["state"], "the-code"
    if fault == "state":
        state = "forged"
    elif fault == "code":
        code = "another-code"
    elif fault == "no-cookie":
        browser.cookies.clear()
    elif fault == "foreign-key":
        endpoint.token = endpoint.issuer.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif fault == "expired":
        endpoint.token = endpoint.issuer.token(exp=1_000_000_000)
    back = browser.get(f"/console/signin/oidc/callback?code={code}&state={state}", follow_redirects=False)
    assert back.status_code == 401, back.text
    assert "eiso_session=" not in back.headers.get("set-cookie", "")
    assert "Không đăng nhập được qua hệ thống định danh" in back.text and "Traceback" not in back.text
    assert browser.get("/console/", follow_redirects=False).status_code == 303
