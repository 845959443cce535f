"""OIDC name claims that could not stand in the audit log refuse the token (401) with the reason.

The name becomes the actor of every audit entry; PostgreSQL cannot store a NUL, and a cleaned
name (cut short, stripped) could make two people one. Both databases, the real JWKS path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from engine.api import create_app
from engine.api.settings import ApiSettings
from engine.store.tables_api import AuditEntry
from tests.api.support import OWN_CASE, World, nc_key
from tests.api.test_security import AUDIENCE, ISSUER, Issuer, bearer

CORRECTION = {"correction": "Case handed to the deputy head"}


@pytest.fixture
def oidc_world(world: World, tmp_path: Path) -> Iterator[tuple[Issuer, TestClient]]:
    issuer = Issuer(tmp_path)
    settings = ApiSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_file=issuer.jwks)
    with TestClient(create_app(world.eiso, settings)) as client:
        yield issuer, client


def _audit_rows(world: World) -> int:
    with Session(world.eiso.engine) as session:
        return int(session.connection().execute(select(func.count()).select_from(AuditEntry)).scalar_one())


@pytest.mark.parametrize(("claims", "reason"), [
    ({"preferred_username": "nguyen\x00van.a"}, "preferred_username claim contains a NUL character"),
    ({"preferred_username": "nguyen\x1bvan.a"}, "control character"),
    ({"preferred_username": "nguyen\u2028van.a"}, "control character"),
    ({"preferred_username": "nguyen\ud800"}, "lone surrogate"),
    ({"preferred_username": "n" * 196}, "1 to 195 characters"),
    ({"preferred_username": " nguyen.van.a"}, "surrounding whitespace"),
    ({"preferred_username": None, "sub": "u\x00-42"}, "sub claim contains a NUL character"),
])
def test_an_unfit_name_claim_refuses_the_token(world: World, oidc_world: Any, claims: dict[str, Any],
                                               reason: str) -> None:
    issuer, client = oidc_world
    token = issuer.token(eiso_role="iso_secretary", **claims)
    before = _audit_rows(world)
    answer = client.post(f"/nonconformities/{nc_key(OWN_CASE)}/correction", json=CORRECTION, headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert reason in answer.json()["detail"]
    assert "\x00" not in answer.text
    assert client.get("/me", headers=bearer(token)).status_code == 401
    assert _audit_rows(world) == before


def test_a_fit_name_writes_with_that_name(world: World, oidc_world: Any) -> None:
    issuer, client = oidc_world
    token = issuer.token(eiso_role="iso_secretary", preferred_username="nguyễn.văn.a" + "n" * 183)
    answer = client.post(f"/nonconformities/{nc_key(OWN_CASE)}/correction", json=CORRECTION, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["corrective_action"]["updated_by"] == "oidc:nguyễn.văn.a" + "n" * 183
