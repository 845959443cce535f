"""POST /procedures/{code}/migrations (issue 13, item 1): the same summary as the CLI's JSON, agency-scoped.

The seeded world (tests/api/support.py): version 1 of 9.000001 for every agency; OWN_CASE (agency OWN_AGENCY,
covered by the users' USER_AGENCY) and OTHER_CASE (OTHER_AGENCY), both at consult || review since Fri 6 Mar
2026 14:00 (consult P1D: due Mon 9 Mar 14:00). Version 2 makes consult P2D: due Tue 10 Mar 14:00.
"""

from __future__ import annotations

from typing import Any

from engine.api.roles import Role
from tests.api.support import OTHER_AGENCY, OTHER_CASE, OWN_AGENCY, OWN_CASE, PROCEDURE, USER_AGENCY, World, event

A, PO = Role.admin, Role.process_owner
SOURCE = PROCEDURE.read_bytes()
CONSULT_LONGER = SOURCE.replace(b'<camunda:property name="deadline" value="P1D"/>',
                                b'<camunda:property name="deadline" value="P2D"/>')
URL = "/procedures/9.000001/migrations"


def deploy(world: World, role: Role, source: bytes, *agencies: str) -> Any:
    answer = world.call(role, "POST", "/procedures", params=[("agency", a) for a in agencies],
                        files={"file": ("procedure.bpmn", source, "application/xml")})
    assert answer.status_code == 201, answer.text
    return answer.json()


def version_of(world: World, case_id: str) -> tuple[str, int]:
    slip = world.call(A, "GET", f"/cases/{case_id}").json()
    return slip["procedure_scope"], slip["procedure_version"]


def test_an_agency_bound_owner_cannot_migrate_another_agencys_cases(world: World) -> None:
    deploy(world, A, CONSULT_LONGER)  # version 2 for every agency: only admin may deploy it, or migrate onto it
    answer = world.call(PO, "POST", URL, json={"to": 2, "dry_run": True})
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert [(c["case_id"], c["result"], c["reason_code"]) for c in summary["cases"]] == [
        (OWN_CASE, "stayed", "not_permitted")]  # OTHER_CASE is not even listed
    refused = world.call(PO, "POST", URL, json={"to": 2, "agencies": [OTHER_AGENCY]})
    assert refused.status_code == 403 and OTHER_AGENCY in refused.json()["detail"]
    assert version_of(world, OTHER_CASE) == ("*", 1)
    moved = world.call(A, "POST", URL, json={"to": 2, "agencies": [OWN_AGENCY]}).json()
    assert (moved["moved"], moved["stayed"]) == (1, 0)
    [case] = moved["cases"]
    consult = next(s for s in case["steps"] if s["step"] == "consult")
    assert (consult["due_before"], consult["due_after"]) == ("2026-03-09T14:00:00+07:00", "2026-03-10T14:00:00+07:00")
    assert version_of(world, OWN_CASE) == ("*", 2) and version_of(world, OTHER_CASE) == ("*", 1)
    timeline = world.call(PO, "GET", f"/cases/{OWN_CASE}/events").json()
    assert [(e["type"], e["actor"], e["reason"]) for e in timeline][-1] == (
        "case_migrated", {"name": "admin-user", "role": "admin"}, "migrated from version 1 to version 2")


def test_an_owner_migrates_the_cases_of_their_own_deployment(world: World) -> None:
    deploy(world, PO, SOURCE, USER_AGENCY)  # version 1 for the owner's agencies
    received = world.call(A, "POST", "/events", json=[event("new-r", "case.received", "2026-03-12 09:00", "NEW-1",
                                                             OWN_AGENCY)])
    assert received.json()["results"][0]["status"] == "applied"
    assert version_of(world, "NEW-1") == (USER_AGENCY, 1)
    assert deploy(world, PO, CONSULT_LONGER, USER_AGENCY)["version"] == 2
    answer = world.call(PO, "POST", URL, json={"to": 2})
    assert answer.status_code == 200, answer.text
    by_case = {c["case_id"]: c for c in answer.json()["cases"]}
    assert by_case["NEW-1"]["result"] == "moved"
    assert (by_case[OWN_CASE]["result"], by_case[OWN_CASE]["reason_code"]) == ("stayed", "no_target_version")
    assert version_of(world, "NEW-1") == (USER_AGENCY, 2)
    audit = world.call(Role.auditor, "GET", "/audit", params={"entity": "case"}).json()["items"]
    assert [(e["action"], e["entity_key"], e["actor"]) for e in audit] == [
        ("case.migrate", "NEW-1", "process_owner-user")]


def test_bad_requests_are_clear_and_write_nothing(world: World) -> None:
    assert world.call(A, "POST", URL, json={"to": 7}).status_code == 404
    unknown = world.call(A, "POST", "/procedures/9.999999/migrations", json={"to": 2})
    assert unknown.status_code == 404 and "9.999999" in unknown.json()["detail"]
    deploy(world, A, CONSULT_LONGER)
    bad_map = world.call(A, "POST", URL, json={"to": 2, "map": {"consul": "consult"}})
    assert bad_map.status_code == 422 and "'consul'" in bad_map.json()["detail"]
    assert world.call(A, "POST", URL, json={"to": 2, "whence": 1}).status_code == 422
    assert version_of(world, OWN_CASE) == ("*", 1)
    assert world.call(A, "POST", "/procedures/9.000001/versions/2/retire").status_code == 200
    retired = world.call(A, "POST", URL, json={"to": 2})
    assert retired.status_code == 409 and "retired" in retired.json()["detail"]
    assert world.call(Role.auditor, "GET", "/audit", params={"entity": "case"}).json()["items"] == []
