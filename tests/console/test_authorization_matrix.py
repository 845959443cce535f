"""The API's authorization matrix, for the console's pages: every page × every role × a record of the
user's agency or of another agency.

The cases come from the console's route table: a page without an entry in ``MATRIX`` fails. Expected:
signed out, a page sends the browser to sign-in (a modeller call answers 401); a role outside the entry's
roles gets the 403 page; an allowed role gets its page for its own agency's record, the 404 page for
another agency's (unless admin or auditor, who see every agency), and never a byte about another agency
in a list or report. Exactly what the same user's token gets from the API (tests/api/test_authorization_matrix.py).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from engine.api.roles import UNSCOPED, Role
from engine.bootstrap import App, build
from engine.console.app import ROUTERS, create_site
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, Settings
from tests.api.support import (
    OTHER_AGENCY,
    OTHER_CASE,
    OWN_AGENCY,
    OWN_CASE,
    PROCEDURE,
    make_world,
    nc_key,
    second_procedure,
)
from tests.conftest import fresh_postgres_database
from tests.console.support import csrf_of, sign_in

A, PO, SEC, LEAD, AUD, CONN = (Role.admin, Role.process_owner, Role.iso_secretary, Role.leader, Role.auditor,
                               Role.connector)
EVERYONE = set(Role)
READERS = {A, PO, SEC, LEAD, AUD}


@dataclass(frozen=True)
class Entry:
    roles: set[Role]
    url: Callable[[bool], str]  # own: True for the user's agency, False for another agency
    kind: str  # "item", "list", "global", "public", "write" (a form), "call" (a modeller JSON call), "scoped"
    ok: frozenset[int] = frozenset({200})
    body: Callable[[bool], dict[str, Any]] | None = None


def case(own: bool) -> str:
    return OWN_CASE if own else OTHER_CASE


def agency(own: bool) -> str:
    return OWN_AGENCY if own else OTHER_AGENCY


def scoped(own: bool) -> str:
    """The second procedure's version deployed for one agency (``versions`` below)."""
    return f"/procedures/9.000002/versions/1?scope={agency(own)}"


PERIOD = "from=01/03/2026&to=31/03/2026"
CALL = {"condition": "x > 1", "duration": "P2D"}
MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/signin"): Entry(EVERYONE, lambda own: "/signin", "public"),
    ("POST", "/signin"): Entry(EVERYONE, lambda own: "/signin", "public"),
    ("POST", "/signout"): Entry(EVERYONE, lambda own: "/signout", "public"),
    ("GET", "/lang/{language}"): Entry(EVERYONE, lambda own: "/lang/en", "public"),
    ("GET", "/signin/oidc"): Entry(EVERYONE, lambda own: "/signin/oidc", "public"),
    ("GET", "/signin/oidc/callback"): Entry(EVERYONE, lambda own: "/signin/oidc/callback", "public"),
    ("GET", "/"): Entry(EVERYONE, lambda own: "/", "global"),
    ("GET", "/procedures"): Entry(READERS, lambda own: "/procedures", "list"),
    ("GET", "/procedures/{code}/versions/{version}"): Entry(READERS, scoped, "item"),
    ("GET", "/procedures/{code}/versions/{version}/bpmn"): Entry(
        READERS, lambda own: scoped(own).replace("?", "/bpmn?"), "item"),
    ("GET", "/procedures/{code}/versions/{version}/steps/{step}/overdue"): Entry(
        READERS, lambda own: scoped(own).replace("?", "/steps/appraise/overdue?"), "item"),
    ("GET", "/procedures/{code}/versions/{version}/practice.svg"): Entry(
        READERS, lambda own: scoped(own).replace("?", f"/practice.svg?{PERIOD}&"), "item"),
    # Migrating running cases (issue 13): the form of a version the user's agency has (the 404 page for another
    # agency's), a preview by who may deploy; the review against the national catalogue, for the user's agencies.
    ("GET", "/procedures/{code}/versions/{version}/migrate"): Entry(
        {A, PO}, lambda own: scoped(own).replace("?", "/migrate?"), "item"),
    ("POST", "/procedures/{code}/versions/{version}/migrate"): Entry(
        {A, PO}, lambda own: scoped(own).replace("?", "/migrate?"), "write", frozenset({200}),
        lambda own: {"action": "preview", "to": "1", "from": "", "agencies": "", "map": ""}),
    ("GET", "/procedures/review"): Entry(READERS, lambda own: "/procedures/review", "list"),
    ("GET", "/procedures/review.csv"): Entry(READERS, lambda own: "/procedures/review.csv", "list"),
    ("GET", "/procedures/review.xlsx"): Entry(READERS, lambda own: "/procedures/review.xlsx", "global"),
    ("GET", "/cases"): Entry(READERS, lambda own: f"/cases?agency={agency(own)}", "list"),
    ("GET", "/cases/{case_id:path}"): Entry(READERS, lambda own: f"/cases/{case(own)}", "item"),
    ("GET", "/cases/{case_id:path}/diagram.bpmn"): Entry(READERS, lambda own: f"/cases/{case(own)}/diagram.bpmn",
                                                         "item"),
    ("GET", "/cases/{case_id:path}/apology"): Entry(READERS, lambda own: f"/cases/{case(own)}/apology", "item",
                                                    frozenset({200, 409})),
    ("GET", "/nonconformities"): Entry(READERS, lambda own: f"/nonconformities?agency={agency(own)}", "list"),
    ("GET", "/nonconformities/{key:path}"): Entry(READERS, lambda own: f"/nonconformities/{nc_key(case(own))}",
                                                  "item"),
    # A correction: who may write one (the API's NC_WORKERS); the first allowed role to come wins (303), the
    # next find the record moved on (409). The form is read first by every reader; a role that may not read
    # the record cannot post either.
    ("POST", "/nonconformities/{key:path}"): Entry(
        {A, PO, SEC}, lambda own: f"/nonconformities/{nc_key(case(own))}", "write", frozenset({303, 409}),
        lambda own: {"step": "correction", "correction": "matrix"}),
    ("GET", "/reports"): Entry(READERS, lambda own: f"/reports?{PERIOD}", "list"),
    ("GET", "/reports/attainment"): Entry(READERS, lambda own: f"/reports/attainment?{PERIOD}", "list"),
    ("GET", "/reports/bottlenecks"): Entry(READERS, lambda own: f"/reports/bottlenecks?{PERIOD}", "list"),
    ("GET", "/reports/nonconformities"): Entry(READERS, lambda own: f"/reports/nonconformities?{PERIOD}", "list"),
    ("GET", "/reports/circular-01"): Entry(READERS, lambda own: f"/reports/circular-01?{PERIOD}", "list"),
    ("GET", "/reports/{report}.csv"): Entry(READERS, lambda own: f"/reports/circular-01.csv?{PERIOD}", "list"),
    ("GET", "/reports/{report}.xlsx"): Entry(READERS, lambda own: f"/reports/attainment.xlsx?{PERIOD}", "global"),
    ("GET", "/audit"): Entry({A, AUD, SEC, LEAD}, lambda own: f"/audit?entity_key={nc_key(case(own))}", "list"),
    ("GET", "/modeller"): Entry({A, PO}, lambda own: "/modeller?code=9.000002&version=1&scope=" + agency(own),
                                "item"),
    ("POST", "/modeller/validate"): Entry({A, PO}, lambda own: "/modeller/validate", "call",
                                          body=lambda own: {"xml": PROCEDURE.read_text(encoding="utf-8")}),
    ("POST", "/modeller/condition"): Entry({A, PO}, lambda own: "/modeller/condition", "call",
                                           body=lambda own: {"condition": CALL["condition"]}),
    ("POST", "/modeller/duration"): Entry({A, PO}, lambda own: "/modeller/duration", "call",
                                          body=lambda own: {"duration": CALL["duration"]}),
    ("POST", "/modeller/deploy"): Entry(
        {A, PO}, lambda own: "/modeller/deploy", "scoped", frozenset({200, 201}),
        lambda own: {"xml": PROCEDURE.read_text(encoding="utf-8"), "agencies": agency(own)}),
}

ROUTES = sorted((method, route.path) for router in ROUTERS for route in router.routes
                if isinstance(route, APIRoute) for method in route.methods or ())


@dataclass
class Site:
    eiso: App
    tokens: dict[Role, str]
    browsers: dict[Role, TestClient]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    databases = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'eiso.db'}"
    else:
        databases = fresh_postgres_database()
        url = next(databases)
    clock = ManualClock(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))
    eiso = build(Settings(database=DatabaseSettings(url=url)), clock=clock)
    try:
        world = make_world(eiso, clock)
        for code in (OWN_AGENCY, OTHER_AGENCY):  # a version of the second procedure for each agency
            eiso.catalog.deploy(second_procedure(), "second.bpmn", clock.now(), [code])
        browsers = {role: sign_in(TestClient(create_site(eiso)), world.tokens[role]) for role in Role}
        yield Site(eiso, world.tokens, browsers)
        for client in browsers.values():
            client.close()
    finally:
        eiso.engine.dispose()
        if databases is not None:
            databases.close()


def _send(client: TestClient, method: str, entry: Entry, own: bool) -> Any:
    url = "/console" + entry.url(own)
    if method == "GET":
        return client.get(url, follow_redirects=False)
    if entry.kind in ("call", "scoped"):
        home = client.get("/console/", follow_redirects=False)
        token = csrf_of(home.text) if home.status_code == 200 else ""
        assert entry.body is not None
        return client.post(url, content=json.dumps(entry.body(own)), follow_redirects=False,
                           headers={"Content-Type": "application/json", "X-CSRF-Token": token})
    page = client.get(url, follow_redirects=False)
    token = csrf_of(page.text) if page.status_code == 200 else csrf_of(client.get("/console/").text)
    assert entry.body is not None
    return client.post(url, data={"csrf": token, **entry.body(own)}, follow_redirects=False)


def test_every_page_has_an_entry() -> None:
    assert set(ROUTES) == set(MATRIX), "add the new page to MATRIX (and to the README)"


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_signed_out(site: Site, method: str, path: str) -> None:
    entry = MATRIX[(method, path)]
    if entry.kind == "public":
        return
    with TestClient(create_site(site.eiso)) as anonymous:
        answer = _send(anonymous, method, entry, True)
    if entry.kind in ("call", "scoped"):
        assert answer.status_code == 401, answer.text
    elif method == "POST":
        assert answer.status_code in (303, 403), answer.text  # no session: sign-in, or a refused CSRF token
        assert answer.status_code == 403 or answer.headers["location"].startswith("/console/signin")
    else:
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/signin?next=")


@pytest.mark.parametrize("own", [True, False], ids=["own", "other"])
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_role_on_own_and_other_agency(site: Site, method: str, path: str, role: Role, own: bool) -> None:
    entry = MATRIX[(method, path)]
    if entry.kind == "public":
        return
    answer = _send(site.browsers[role], method, entry, own)
    status, body = answer.status_code, answer.text
    assert "Traceback" not in body
    if role not in entry.roles:
        if entry.kind == "write" and (role not in READERS or not own):
            # a record the role may not even read, or another agency's: not found before the role is asked
            assert status in (403, 404), body
        else:
            assert status == 403, body
        return
    sees_all = role in UNSCOPED
    if entry.kind in ("item", "write") and not own and not sees_all:
        assert status == 404, body
    elif entry.kind == "scoped" and not own and not sees_all:
        assert status == 403, body
    else:
        assert status in entry.ok, body
    if entry.kind == "list" and not sees_all:
        shown = _without_echo(body, entry.url(own))
        assert OTHER_AGENCY not in shown and OTHER_CASE not in shown


def _without_echo(body: str, url: str) -> str:
    """The page without the user's own query echoed back (filter fields, links keeping the filters)."""
    for _, value in parse_qsl(urlsplit(url).query):
        for form in (value, quote(value, safe=""), quote_plus(value), html.escape(value)):
            body = body.replace(form, "")
    return body
