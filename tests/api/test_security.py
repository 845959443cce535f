"""Tokens stored as hashes, OIDC bearer tokens against a local JWKS, the agency rule, CORS, logs."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import String, select, text
from sqlmodel import Session, col

from engine.api import create_app
from engine.api.roles import Role
from engine.api.scope import AgencyScope, BadAgencyCode, check_code, covers
from engine.api.settings import ApiSettings
from engine.api.users import disable_user, token_hash
from engine.store.tables_api import ApiToken
from tests.api.support import OTHER_CASE, OWN_CASE, USER_AGENCY, World

ISSUER, AUDIENCE = "https://login.example.gov.vn/realms/eiso", "eiso-api"


@pytest.mark.parametrize(("code", "other", "expected"), [
    ("000.00.12.H10", "000.00.12.H10", True),
    ("000.00.12.H10", "000.31.12.H10", True),
    ("000.00.12.H10", "001.31.12.H10", True),
    ("000.00.12.H10", "000.00.13.H10", False),
    ("000.00.12.H10", "000.00.12.H11", False),
    ("000.00.12.H10", "00.12.H10", False),
    ("000.31.12.H10", "007.31.12.H10", True),
    ("000.31.12.H10", "000.00.12.H10", False),
    ("000.31.12.H10", "000.32.12.H10", False),
    ("001.31.12.H10", "002.31.12.H10", False),
    ("000.00.00.H10", "000.31.12.H10", True),
    ("000.00.00.H10", "000.31.12.H11", False),
    ("001.00.12.H10", "001.31.12.H10", False),
    ("H10", "H10", True),
])
def test_a_code_covers_itself_and_the_codes_below_it(code: str, other: str, expected: bool) -> None:
    assert covers(code, other) is expected


@pytest.mark.parametrize("code", ["", "000.00.00.000", "000..12.H10", "a b", "000.%.12", "x" * 101])
def test_unusable_codes_are_refused(code: str) -> None:
    with pytest.raises(BadAgencyCode):
        check_code(code)


def test_the_sql_rule_is_the_python_rule(shared_world: World) -> None:
    agencies = ["000.31.12.H10", "001.31.12.H10", "000.00.12.H10", "000.00.13.H10", "000.31.12.H11", "31.12.H10",
                "000.31_12.H10", "x.000.31.12.H10"]
    with shared_world.eiso.engine.begin() as conn:
        rows = [{"case_id": f"S-{i}", "agency": a} for i, a in enumerate(agencies)]
        conn.execute(text("CREATE TABLE scope_probe (case_id VARCHAR(20), agency VARCHAR(100))"))
        conn.execute(text("INSERT INTO scope_probe VALUES (:case_id, :agency)"), rows)
    for codes in (["000.00.12.H10"], ["000.31.12.H10"], ["000.00.13.H10", "001.31.12.H10"], ["000.00.00.H10"]):
        scope = AgencyScope.of(codes)
        with Session(shared_world.eiso.engine) as session:
            probe = text("SELECT agency FROM scope_probe").columns(agency=String())
            column = probe.subquery().c.agency
            found = set(session.connection().execute(select(column).where(scope.clause(column))).scalars())
        assert found == {a for a in agencies if scope.covers(a)}, codes


def test_tokens_are_stored_only_as_hashes(world: World) -> None:
    token = world.tokens[Role.leader]
    with Session(world.eiso.engine) as session:
        conn = session.connection()
        stored = conn.execute(select(col(ApiToken.token_hash))).scalars().all()
        dump = json.dumps([list(r) for r in conn.execute(text("SELECT * FROM api_token")).all()], default=str)
    assert token_hash(token) in stored and token not in dump and token[5:] not in dump
    assert world.call(Role.leader, "GET", "/me").status_code == 200
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "eiso_", "nonsense", ""):
        response = world.client.get("/me", headers={"Authorization": f"Bearer {wrong}"})
        assert response.status_code == 401
    assert world.client.get("/me", headers={"Authorization": f"Basic {token}"}).status_code == 401
    assert disable_user(world.eiso.engine, "leader-user", world.clock.now())
    assert world.call(Role.leader, "GET", "/me").status_code == 401


def test_no_secret_in_the_logs(shared_world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = shared_world.tokens[Role.admin]
    shared_world.call(Role.admin, "GET", "/cases")
    shared_world.client.get("/cases", headers={"Authorization": f"Bearer {token}x"})
    shared_world.client.get("/cases", headers={"Authorization": "Bearer header.payload.signature"})
    assert "refused" in caplog.text
    assert token not in caplog.text and "header.payload.signature" not in caplog.text


def test_cors_is_off_unless_configured(shared_world: World) -> None:
    preflight = {"Origin": "https://portal.example.gov.vn", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in shared_world.client.options("/cases", headers=preflight).headers
    settings = ApiSettings(cors_origins="https://portal.example.gov.vn, https://other.example")
    with TestClient(create_app(shared_world.eiso, settings)) as client:
        answer = client.options("/cases", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://portal.example.gov.vn"
        assert client.get("/health", headers={"Origin": "https://evil.example"}).headers.get(
            "access-control-allow-origin") is None


class Issuer:
    """A local OIDC issuer: an RSA key, its JWKS in a file, tokens signed with it."""

    def __init__(self, tmp_path: Path):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = tmp_path / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}))

    def token(self, key: Any = None, kid: str = "k1", algorithm: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-42", "iat": now, "exp": now + 300,
                "preferred_username": "nguyen.van.a", "eiso_role": "leader", "eiso_agencies": [USER_AGENCY],
                **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture(scope="module")
def oidc(shared_world: World, tmp_path_factory: pytest.TempPathFactory) -> Any:
    issuer = Issuer(tmp_path_factory.mktemp("oidc"))
    settings = ApiSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_file=issuer.jwks)
    with TestClient(create_app(shared_world.eiso, settings)) as client:
        yield issuer, client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_oidc_tokens_map_to_a_role_and_agencies(oidc: Any) -> None:
    issuer, client = oidc
    me = client.get("/me", headers=bearer(issuer.token()))
    assert me.status_code == 200, me.text
    assert me.json() == {"name": "oidc:nguyen.van.a", "role": "leader", "agencies": [USER_AGENCY],
                         "all_agencies": False}
    assert client.get(f"/cases/{OWN_CASE}", headers=bearer(issuer.token())).status_code == 200
    assert client.get(f"/cases/{OTHER_CASE}", headers=bearer(issuer.token())).status_code == 404
    auditor = issuer.token(eiso_role=["staff", "auditor"], eiso_agencies=None)
    assert client.get(f"/cases/{OTHER_CASE}", headers=bearer(auditor)).status_code == 200
    no_agency = issuer.token(eiso_agencies=None)
    assert client.get("/cases", headers=bearer(no_agency)).json()["total"] == 0


@pytest.mark.parametrize(("change", "reason"), [
    ({"exp": 1}, "expired"),
    ({"aud": "someone-else"}, "InvalidAudience"),
    ({"iss": "https://evil.example"}, "InvalidIssuer"),
    ({"eiso_role": "superuser"}, "no eiso role"),
    ({"eiso_agencies": ["a b"]}, "agency"),
    ({"sub": None}, "MissingRequiredClaim"),
])
def test_oidc_refusals(oidc: Any, change: dict[str, Any], reason: str) -> None:
    issuer, client = oidc
    response = client.get("/me", headers=bearer(issuer.token(**change)))
    assert response.status_code == 401 and reason in response.json()["detail"]


def test_oidc_signature_checks(oidc: Any) -> None:
    issuer, client = oidc
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert client.get("/me", headers=bearer(issuer.token(key=stranger))).status_code == 401
    assert client.get("/me", headers=bearer(issuer.token(kid="k9"))).status_code == 401
    hmac_token = issuer.token(key="a shared secret of thirty-two bytes!", algorithm="HS256")
    assert client.get("/me", headers=bearer(hmac_token)).status_code == 401
    assert client.get("/me", headers=bearer("not.a.jwt")).status_code == 401


def test_api_tokens_still_work_with_oidc_on(oidc: Any, shared_world: World) -> None:
    _, client = oidc
    assert client.get("/me", headers=shared_world.headers(Role.auditor)).json()["role"] == "auditor"
