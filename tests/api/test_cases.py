"""Cases over HTTP: the list and its filters, the control slip, the timeline, the Form 04 slip."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api.roles import Role
from engine.store.queries import Presenter, case_detail
from tests.api.support import OTHER_CASE, OWN_AGENCY, OWN_CASE, World, event

LEAD, ADMIN = Role.leader, Role.admin


def ingest(world: World, *events: dict[str, Any]) -> None:
    for obj in events:
        assert world.eiso.service.ingest_object(obj, "test").status == "applied"


def ids(world: World, role: Role, **params: Any) -> list[str]:
    response = world.call(role, "GET", "/cases", params=params)
    assert response.status_code == 200, response.text
    return [c["case_id"] for c in response.json()["items"]]


def test_list_filters_and_paging(world: World) -> None:
    ingest(world, event("e-1", "case.received", "2026-03-10 08:00", "EARLY-1", OWN_AGENCY),
           event("e-2", "case.result_ready", "2026-03-10 10:00", "EARLY-1", OWN_AGENCY))
    assert ids(world, LEAD) == ["EARLY-1", OWN_CASE]
    assert ids(world, ADMIN) == ["EARLY-1", OWN_CASE, OTHER_CASE]
    assert ids(world, ADMIN, agency="000.00.12.H10") == ["EARLY-1", OWN_CASE]
    assert ids(world, ADMIN, agency=OWN_AGENCY, status="resolved") == ["EARLY-1"]
    assert ids(world, ADMIN, timeliness="early") == ["EARLY-1"]
    assert ids(world, LEAD, overdue=True) == [OWN_CASE]
    assert ids(world, LEAD, overdue=False) == ["EARLY-1"]
    assert ids(world, LEAD, received_from="2026-03-03", received_to="2026-03-11T00:00:00+07:00") == ["EARLY-1"]
    assert ids(world, ADMIN, procedure="9.000002") == []
    page = world.call(ADMIN, "GET", "/cases", params={"limit": 1, "offset": 1}).json()
    assert (page["total"], [c["case_id"] for c in page["items"]]) == (3, [OWN_CASE])
    summary = world.call(LEAD, "GET", "/cases", params={"timeliness": "early"}).json()["items"][0]
    assert summary["timeliness"] == "early" and summary["resolved_at"] == "2026-03-10T10:00:00+07:00"


@pytest.mark.parametrize("params", [
    {"received_from": "2026-02-30"}, {"received_from": "0001-01-01T00:00:00"}, {"received_to": "soon"},
    {"agency": "000 00"}, {"agency": "%"}, {"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "lost"},
    {"overdue": "perhaps"}, {"timeliness": "never"},
])
def test_bad_filters_answer_422(shared_world: World, params: dict[str, Any]) -> None:
    response = shared_world.call(LEAD, "GET", "/cases", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_nul_in_the_query_is_refused(shared_world: World) -> None:
    response = shared_world.call(LEAD, "GET", "/cases?procedure=a%00b")
    assert response.status_code == 422 and "NUL" in response.json()["detail"]


def test_control_slip_is_the_contract_json(shared_world: World) -> None:
    response = shared_world.call(LEAD, "GET", f"/cases/{OWN_CASE}")
    assert response.status_code == 200
    expected = case_detail(shared_world.eiso.engine, OWN_CASE, Presenter(shared_world.eiso.calendar))
    assert response.json() == expected
    steps = response.json()["steps"]
    assert [(s["step"], s["unit"], s["timeliness"]) for s in steps[:2]] == [
        ("receive", "One-Stop unit", "on_time"), ("appraise", "Section officer", "late")]
    assert shared_world.call(LEAD, "GET", "/cases/NO-SUCH-CASE").status_code == 404


def test_timeline_lists_the_events_in_order(shared_world: World) -> None:
    timeline = shared_world.call(LEAD, "GET", f"/cases/{OWN_CASE}/events").json()
    assert [(e["event_id"], e["type"], e["step"]) for e in timeline] == [
        ("own-1", "case.received", None), ("own-2", "step.completed", "receive"),
        ("own-3", "step.completed", "appraise")]
    assert timeline[2]["occurred_at"] == "2026-03-06T14:00:00+07:00"


def test_form_04_for_an_overdue_case(shared_world: World) -> None:
    slip = shared_world.call(LEAD, "GET", f"/cases/{OWN_CASE}/apology").json()
    assert slip["situation"] == "overdue"
    assert slip["original_appointment"] == slip["statutory_due_at"] == "2026-03-09T08:00:00+07:00"
    assert slip["delay_working_hours"] == 24.0 and slip["new_appointment"] is None
    assert slip["procedure_name"] == "Test procedure (5 working days)"


def test_form_04_with_the_apology_made(world: World) -> None:
    ingest(world, event("x-1", "case.received", "2026-03-09 08:00", "EXT-1", OWN_AGENCY),
           event("x-2", "case.extended", "2026-03-12 08:00", "EXT-1", OWN_AGENCY,
                 due_at="2026-03-20T17:00:00+07:00", reason="Waiting for the land registry's answer"))
    slip = world.call(LEAD, "GET", "/cases/EXT-1/apology").json()
    assert slip["situation"] == "extended"
    assert slip["reason"] == "Waiting for the land registry's answer"
    assert slip["new_appointment"] == "2026-03-20T17:00:00+07:00"
    assert slip["apology_at"] == "2026-03-12T08:00:00+07:00" and slip["apology_in_time"] is True
    assert slip["remaining_working_hours"] == 16.0


def test_form_04_at_risk_and_not_due(world: World) -> None:
    ingest(world, event("r-1", "case.received", "2026-03-05 10:00", "RISK-1", OWN_AGENCY),
           event("n-1", "case.received", "2026-03-11 08:00", "CALM-1", OWN_AGENCY),
           event("d-1", "case.received", "2026-03-02 08:00", "DONE-1", OWN_AGENCY),
           event("d-2", "case.result_ready", "2026-03-03 08:00", "DONE-1", OWN_AGENCY))
    risk = world.call(LEAD, "GET", "/cases/RISK-1/apology").json()
    assert (risk["situation"], risk["remaining_working_hours"]) == ("at_risk", 2.0)
    calm = world.call(LEAD, "GET", "/cases/CALM-1/apology")
    assert calm.status_code == 409 and "working hours remain" in calm.json()["detail"]
    done = world.call(LEAD, "GET", "/cases/DONE-1/apology")
    assert done.status_code == 409 and "resolved early" in done.json()["detail"]


def test_case_ids_with_a_slash_are_reachable(world: World) -> None:
    ingest(world, event("s-1", "case.received", "2026-03-02 08:00", "H10/2026/0001", OWN_AGENCY),
           event("s-2", "step.completed", "2026-03-02 09:00", "H10/2026/0001", OWN_AGENCY, "receive"),
           event("s-3", "step.completed", "2026-03-06 14:00", "H10/2026/0001", OWN_AGENCY, "appraise"))
    assert world.call(LEAD, "GET", "/cases/H10/2026/0001").json()["case_id"] == "H10/2026/0001"
    assert len(world.call(LEAD, "GET", "/cases/H10%2F2026%2F0001/events").json()) == 3
    key = "H10/2026/0001:step_timeliness:1"
    assert world.call(LEAD, "GET", f"/nonconformities/{key}").json()["key"] == key
    done = world.call(Role.iso_secretary, "POST", f"/nonconformities/{key}/correction", json={"correction": "c"})
    assert done.json()["status"] == "correction_recorded"
