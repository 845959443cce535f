"""Every endpoint × every role × a target in the user's agency or outside it.

The cases are generated from the application's route table: an endpoint without an entry in
``MATRIX`` fails. Expected: no token 401; a role outside the entry's roles 403; an allowed
role gets an authorized answer on its own agency's records, 404 on another agency's record
(unless admin or auditor), and never a byte about another agency in a list or report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from engine.api.app import api_routes, route_roles
from engine.api.roles import UNSCOPED, Role
from tests.api.support import (
    OTHER_AGENCY,
    OTHER_CASE,
    OWN_AGENCY,
    OWN_CASE,
    PROCEDURE,
    World,
    event,
    nc_key,
    second_procedure,
)

A, PO, SEC, LEAD, AUD, CONN = (Role.admin, Role.process_owner, Role.iso_secretary, Role.leader, Role.auditor,
                               Role.connector)
READERS = {A, PO, SEC, LEAD, AUD}
EVERYONE = set(Role)


@dataclass(frozen=True)
class Req:
    method: str
    url: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Entry:
    roles: set[Role]
    request: Callable[[bool], Req]  # own: True for the user's agency, False for another agency
    kind: str  # "item", "list", "global", "ingest", "scoped" (a procedure write for agency(own)), "public"
    ok: frozenset[int] = frozenset({200})


@pytest.fixture(scope="module")
def scoped_versions(shared_world: World) -> None:
    """A version of the second procedure for each agency, for the retire requests."""
    for code in (OWN_AGENCY, OTHER_AGENCY):
        shared_world.eiso.catalog.deploy(second_procedure(), "second.bpmn", shared_world.clock.now(), [code])


def case(own: bool) -> str:
    return OWN_CASE if own else OTHER_CASE


def key(own: bool) -> str:
    return nc_key(case(own))


def agency(own: bool) -> str:
    return OWN_AGENCY if own else OTHER_AGENCY


def get(url: Callable[[bool], str]) -> Callable[[bool], Req]:
    return lambda own: Req("GET", url(own), {})


def post(url: Callable[[bool], str], body: Callable[[bool], Any] | None = None,
         **extra: Any) -> Callable[[bool], Req]:
    return lambda own: Req("POST", url(own), {"json": body(own)} if body else extra)


_counter = iter(range(1_000_000))


def ingest_body(own: bool) -> list[dict[str, Any]]:
    n = next(_counter)
    return [event(f"matrix-{n}", "case.received", "2026-03-10 08:00", f"M-{n}", agency(own))]


WRITE_OK = frozenset({200, 409})
REPORT = "?from=2026-03-01&to=2026-04-01"
MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/health"): Entry(EVERYONE, get(lambda own: "/health"), "public"),
    ("GET", "/me"): Entry(EVERYONE, get(lambda own: "/me"), "global"),
    ("GET", "/procedures"): Entry(READERS, get(lambda own: "/procedures"), "global"),
    ("POST", "/procedures"): Entry({A, PO}, lambda own: Req("POST", f"/procedures?agency={agency(own)}", {"files": {
        "file": ("test-procedure.bpmn", PROCEDURE.read_bytes(), "application/xml")}}), "scoped",
        frozenset({200, 201})),
    ("POST", "/procedures/validate"): Entry({A, PO}, lambda own: Req("POST", "/procedures/validate", {
        "content": PROCEDURE.read_bytes(), "headers": {"Content-Type": "application/xml"}}), "global"),
    ("GET", "/procedures/{code}/versions/{version}"): Entry(READERS, get(lambda own: "/procedures/9.000001/versions/1"),
                                                            "global"),
    ("GET", "/procedures/{code}/versions/{version}/bpmn"): Entry(
        READERS, get(lambda own: "/procedures/9.000001/versions/1/bpmn"), "global"),
    ("POST", "/procedures/{code}/versions/{version}/retire"): Entry(  # versions of scoped_versions()
        {A, PO}, post(lambda own: f"/procedures/9.000002/versions/1/retire?agency={agency(own)}"), "scoped"),
    ("POST", "/procedures/{code}/migrations"): Entry(  # a dry run onto the version the cases follow: nothing moves
        {A, PO}, post(lambda own: "/procedures/9.000001/migrations",
                      lambda own: {"to": 1, "agencies": [agency(own)], "dry_run": True}), "scoped"),
    ("GET", "/cases"): Entry(READERS, get(lambda own: f"/cases?agency={agency(own)}"), "list"),
    ("GET", "/cases/{case_id}"): Entry(READERS, get(lambda own: f"/cases/{case(own)}"), "item"),
    ("GET", "/cases/{case_id}/events"): Entry(READERS, get(lambda own: f"/cases/{case(own)}/events"), "item"),
    ("GET", "/cases/{case_id}/apology"): Entry(READERS, get(lambda own: f"/cases/{case(own)}/apology"), "item"),
    ("GET", "/nonconformities"): Entry(READERS, get(lambda own: f"/nonconformities?agency={agency(own)}"), "list"),
    ("GET", "/nonconformities/{key}"): Entry(READERS, get(lambda own: f"/nonconformities/{key(own)}"), "item"),
    ("POST", "/nonconformities/{key}/correction"): Entry(
        {A, PO, SEC}, post(lambda own: f"/nonconformities/{key(own)}/correction", lambda own: {"correction": "c"}),
        "item", WRITE_OK),
    ("POST", "/nonconformities/{key}/cause"): Entry(
        {A, PO, SEC}, post(lambda own: f"/nonconformities/{key(own)}/cause",
                           lambda own: {"cause": "c", "category": "staff"}), "item", WRITE_OK),
    ("POST", "/nonconformities/{key}/action"): Entry(
        {A, PO, SEC}, post(lambda own: f"/nonconformities/{key(own)}/action",
                           lambda own: {"action": "a", "owner": "o", "due": "2026-04-30"}), "item", WRITE_OK),
    ("POST", "/nonconformities/{key}/verification"): Entry(
        {A, SEC, LEAD}, post(lambda own: f"/nonconformities/{key(own)}/verification",
                             lambda own: {"verification": "v", "effective": True}), "item", WRITE_OK),
    ("POST", "/nonconformities/{key}/close"): Entry(
        {A, SEC, LEAD}, post(lambda own: f"/nonconformities/{key(own)}/close", lambda own: {}), "item", WRITE_OK),
    ("GET", "/audit"): Entry({A, AUD, SEC, LEAD}, get(lambda own: f"/audit?entity_key={key(own)}"), "list"),
    ("GET", "/reports/attainment"): Entry(READERS, get(lambda own: f"/reports/attainment{REPORT}"), "list"),
    ("GET", "/reports/bottlenecks"): Entry(READERS, get(lambda own: f"/reports/bottlenecks{REPORT}"), "list"),
    ("GET", "/reports/nonconformities"): Entry(READERS, get(lambda own: f"/reports/nonconformities{REPORT}"), "list"),
    ("GET", "/reports/circular-01"): Entry(READERS, get(lambda own: f"/reports/circular-01{REPORT}"), "list"),
    ("GET", "/reports/agency-codes"): Entry(READERS, get(lambda own: f"/reports/agency-codes{REPORT}"), "list"),
    ("GET", "/reports/conformance"): Entry(READERS, get(lambda own: f"/reports/conformance{REPORT}"), "list"),
    ("GET", "/reports/conformance/cases"): Entry(READERS, get(lambda own: f"/reports/conformance/cases{REPORT}"),
                                                 "list"),
    ("GET", "/reports/procedure-review"): Entry(READERS, get(lambda own: "/reports/procedure-review"), "list"),
    ("GET", "/reports/steps"): Entry(  # a version of scoped_versions(): another agency's answers 404
        READERS, get(lambda own: f"/reports/steps{REPORT}&procedure=9.000002&version=1&scope={agency(own)}"), "item"),
    ("POST", "/events"): Entry({A, CONN}, post(lambda own: "/events", ingest_body), "ingest"),
}

ROUTES = sorted((method, route.path_format) for route in api_routes() for method in route.methods or ())


def test_every_route_has_an_entry_with_the_roles_it_enforces() -> None:
    declared = {(m, r.path_format): route_roles(r) for r in api_routes() for m in r.methods or ()}
    assert set(declared) == set(MATRIX), "add the new endpoint to MATRIX (and to the README)"
    for route, roles in declared.items():
        expected = {r.value for r in MATRIX[route].roles}
        assert (roles or {r.value for r in Role}) == expected, route


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_without_a_token(shared_world: World, method: str, path: str) -> None:
    entry = MATRIX[(method, path)]
    request = entry.request(True)
    response = shared_world.call(None, request.method, request.url, **request.kwargs)
    if entry.kind == "public":
        assert response.status_code == 200
    else:
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("own", [True, False], ids=["own", "other"])
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_role_on_own_and_other_agency(shared_world: World, scoped_versions: None, method: str, path: str, role: Role,
                                      own: bool) -> None:
    entry = MATRIX[(method, path)]
    request = entry.request(own)
    response = shared_world.call(role, request.method, request.url, **request.kwargs)
    status, body = response.status_code, response.text
    if role not in entry.roles:
        assert status == 403, body
        return
    sees_all = role in UNSCOPED
    if entry.kind == "item" and not own and not sees_all:
        assert status == 404, body
    elif entry.kind in ("ingest", "scoped") and not own and not sees_all:
        assert status == 403, body
    else:
        assert status in entry.ok, body
    if entry.kind == "list" and not own and not sees_all:
        assert OTHER_AGENCY not in body and OTHER_CASE not in body
