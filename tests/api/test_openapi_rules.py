"""The OpenAPI document states what the server checks, and the server checks what it states.

Dates and times: ISO 8601 text in the years 1970-2200, as a pattern the server applies itself
(no Unix seconds like ``?to=0.5``, no 2026-02-30). Agency codes: the one documented format. An
undeclared method answers 405 with the methods of that very resource in ``Allow``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.api import create_app
from engine.api.models.common import DATE_PATTERN, DATE_TIME_PATTERN
from engine.api.roles import Role
from engine.core.events import AGENCY_CODE_PATTERN
from tests.api.support import OWN_CASE, USER_AGENCY, World, nc_key
from tests.api.test_cli_users import eiso

A = Role.admin


@pytest.mark.parametrize(("url", "name"), [("/audit", "to"), ("/audit", "from"), ("/cases", "received_from"),
                                           ("/nonconformities", "detected_to"), ("/reports/attainment", "to")])
@pytest.mark.parametrize("value", ["0.5", "1700000000", "0001-01-01", "1969-12-31T23:59:59Z", "2201-01-01",
                                   "9999-12-31T00:00:00-05:00", "2026-02-30", "2100-02-29", "2026-03-01T24:00:00Z",
                                   "2026-03-01T08:00:00+24:00", "yesterday"])
def test_dates_outside_the_documented_form_are_refused(shared_world: World, url: str, name: str,
                                                       value: str) -> None:
    answer = shared_world.call(A, "GET", url, params={name: value})
    assert answer.status_code == 422, (value, answer.text)
    assert "1970-2200" in answer.json()["detail"]


@pytest.mark.parametrize(("url", "params"), [
    ("/audit", {"from": "1970-01-01", "to": "2200-12-31T23:59:59.999999-23:59"}),
    ("/cases", {"received_from": "2024-02-29T08:00", "received_to": "2026-03-02 08:00:00+07:00"}),
    ("/nonconformities", {"detected_from": "2026-03-01T00:00:00Z"}),
    ("/reports/attainment", {"from": "2024-02-29", "to": "2026-03-01"}),
])
def test_dates_in_the_documented_form_are_accepted(shared_world: World, url: str, params: dict[str, str]) -> None:
    answer = shared_world.call(A, "GET", url, params=params)
    assert answer.status_code == 200, answer.text


def test_the_patterns_agree_with_the_year_bounds() -> None:
    for year, ok in ((1969, False), (1970, True), (2024, True), (2200, True), (2201, False)):
        assert bool(re.match(DATE_PATTERN, f"{year}-01-31")) is ok
        assert bool(re.match(DATE_TIME_PATTERN, f"{year}-06-30T12:00:00+07:00")) is ok
    leap = [y for y in range(1970, 2201) if re.match(DATE_PATTERN, f"{y}-02-29")]
    assert leap == [y for y in range(1970, 2201) if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)]


def _parameters(schema: dict[str, Any], path: str, method: str = "get") -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in schema["paths"][path][method].get("parameters", [])}


def test_the_document_states_the_rules(shared_world: World) -> None:
    schema = create_app(shared_world.eiso).openapi()

    def pattern(parameter: dict[str, Any]) -> str:
        found = [s.get("pattern") for s in parameter["schema"].get("anyOf", [parameter["schema"]])]
        return next(p for p in found if p)

    for path, names in (("/audit", ("from", "to")), ("/cases", ("received_from", "received_to")),
                        ("/nonconformities", ("detected_from", "detected_to"))):
        for name in names:
            assert pattern(_parameters(schema, path)[name]) == DATE_TIME_PATTERN, (path, name)
    for path in ("/reports/attainment", "/reports/bottlenecks", "/reports/nonconformities", "/reports/circular-01"):
        report = _parameters(schema, path)
        assert pattern(report["from"]) == pattern(report["to"]) == DATE_PATTERN
        assert pattern(report["agency"]) == AGENCY_CODE_PATTERN
        assert "three years" in report["to"]["description"]
    for path in ("/cases", "/nonconformities"):
        assert pattern(_parameters(schema, path)["agency"]) == AGENCY_CODE_PATTERN
    due = schema["components"]["schemas"]["ActionCreate"]["properties"]["due"]
    assert due["pattern"] == DATE_PATTERN
    assert "NUL" in schema["info"]["description"]


@pytest.mark.parametrize(("method", "url", "allow"), [
    ("OPTIONS", f"/nonconformities/{nc_key(OWN_CASE)}/cause", "POST"),
    ("PUT", f"/nonconformities/{nc_key(OWN_CASE)}/close", "POST"),
    ("OPTIONS", "/procedures", "GET, POST"),
    ("OPTIONS", "/procedures/9.000001/versions/1/retire", "POST"),
    ("DELETE", f"/cases/{OWN_CASE}/events", "GET"),
    ("OPTIONS", "/events", "POST"),
])
def test_an_undeclared_method_names_the_resources_own_methods(shared_world: World, method: str, url: str,
                                                              allow: str) -> None:
    answer = shared_world.call(A, method, url)
    assert answer.status_code == 405 and answer.headers["Allow"] == allow


@pytest.mark.parametrize("code", ["%", "a b", "H10", "000.00.12.h10", "=1+2"])
def test_users_are_bound_only_to_agency_codes(database_url: str, code: str) -> None:
    made = eiso(database_url, "users", "create", "--role", "leader", "--agency", code, "--name", "x")
    assert made.exit_code != 0 and "000.00.12.H10" in made.stderr
    assert eiso(database_url, "users", "create", "--role", "leader", "--agency", USER_AGENCY, "--name", "y"
                ).exit_code == 0


def test_every_undeclared_method_answers_405_with_the_documented_methods(shared_world: World) -> None:
    """What schemathesis's coverage phase checks (unsupported methods, Allow), for every path of the document."""
    schema = create_app(shared_world.eiso).openapi()
    samples = {"{case_id}": OWN_CASE, "{key}": nc_key(OWN_CASE), "{code}": "9.000001", "{version}": "1"}
    wrong = []
    for template, operations in schema["paths"].items():
        url = template
        for name, value in samples.items():
            url = url.replace(name, value)
        declared = sorted(method.upper() for method in operations)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            if method in declared:
                continue
            answer = shared_world.call(A, method, url)
            if answer.status_code != 405 or answer.headers.get("Allow") != ", ".join(declared):
                wrong.append((method, template, answer.status_code, answer.headers.get("Allow")))
    assert wrong == []
