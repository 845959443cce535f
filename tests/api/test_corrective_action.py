"""The corrective-action cycle (ISO 9001 clause 10.2): happy path, the loop back, 409s, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from engine.api import create_app
from engine.api.roles import Role
from engine.bootstrap import build
from engine.settings import DatabaseSettings, EngineSettings, Settings
from engine.store.tables import NonconformityRow, OutboxMessage
from engine.store.tables_api import AuditEntry, CorrectiveAction
from tests.api.support import OWN_CASE, World, late_case, nc_key

KEY = nc_key(OWN_CASE)
SEC, LEAD, PO = Role.iso_secretary, Role.leader, Role.process_owner


def act(world: World, role: Role, command: str, body: dict[str, Any], key: str = KEY) -> Any:
    return world.call(role, "POST", f"/nonconformities/{key}/{command}", json=body)


def audit_count(world: World) -> int:
    with Session(world.eiso.engine) as session:
        return int(session.connection().execute(select(func.count()).select_from(AuditEntry)).scalar_one())


CORRECTION = {"correction": "Case handed to the deputy head; applicant informed by phone"}
CAUSE = {"cause": "Section officer on leave, no deputy assigned", "category": "staff"}
ACTION = {"action": "Name a deputy for every section in the procedure", "owner": "Head of section",
          "due": "2026-04-30"}
EFFECTIVE = {"verification": "No late appraisal in April", "effective": True}


def test_happy_path_to_closed_with_an_audit_entry_per_change(world: World) -> None:
    steps: list[tuple[Role, str, dict[str, Any], str, list[str]]] = [
             (SEC, "correction", CORRECTION, "correction_recorded", ["cause"]),
             (PO, "cause", CAUSE, "cause_analysed", ["cause", "action"]),
             (PO, "action", ACTION, "action_planned", ["verification"]),
             (LEAD, "verification", EFFECTIVE, "action_verified", ["close"]),
             (LEAD, "close", {"note": "Effective"}, "closed", [])]
    for role, command, body, status, following in steps:
        response = act(world, role, command, body)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
        assert response.json()["next"] == following
    record = world.call(Role.auditor, "GET", f"/nonconformities/{KEY}").json()
    action = record["corrective_action"]
    assert action["correction"] == CORRECTION["correction"] and action["cause_category"] == "staff"
    assert action["action_owner"] == "Head of section" and action["action_due"] == "2026-04-30"
    assert action["effective"] is True and action["closing_note"] == "Effective"
    assert action["updated_by"] == "leader-user" and action["closed_at"] == "2026-03-12T08:00:00+07:00"
    log = world.call(Role.auditor, "GET", "/audit", params={"entity_key": KEY}).json()
    assert [e["action"] for e in log["items"]] == [f"nonconformity.{s[1]}" for s in steps]
    assert [(e["before"]["status"], e["after"]["status"]) for e in log["items"]] == [
        ("open", "correction_recorded"), ("correction_recorded", "cause_analysed"),
        ("cause_analysed", "action_planned"), ("action_planned", "action_verified"), ("action_verified", "closed")]
    assert [e["actor"] for e in log["items"]] == ["iso_secretary-user", "process_owner-user", "process_owner-user",
                                                  "leader-user", "leader-user"]
    assert log["items"][2]["after"]["action_due"] == "2026-04-30"
    assert all(e["agency"] == "000.31.12.H10" and e["at"] == "2026-03-12T08:00:00+07:00" for e in log["items"])


def test_ineffective_action_goes_back_to_cause_analysis(world: World) -> None:
    for command, body in (("correction", CORRECTION), ("cause", CAUSE), ("action", ACTION)):
        assert act(world, SEC, command, body).status_code == 200
    again = act(world, SEC, "verification", {"verification": "Still late in April", "effective": False})
    assert again.json()["status"] == "cause_analysed"
    assert again.json()["corrective_action"]["effective"] is False
    assert act(world, SEC, "close", {}).status_code == 409
    revised = act(world, SEC, "cause", {"cause": "No deputy rule in the procedure", "category": "procedure"})
    assert revised.json()["status"] == "cause_analysed"
    assert act(world, SEC, "action", ACTION).json()["corrective_action"]["effective"] is None
    assert act(world, SEC, "verification", EFFECTIVE).json()["status"] == "action_verified"
    assert act(world, SEC, "close", {}).json()["status"] == "closed"


@pytest.mark.parametrize(("done", "command", "body", "reason"), [
    ([], "cause", CAUSE, "cannot record the root cause while the nonconformity is open: record the correction first"),
    ([], "close", {}, "cannot close while the nonconformity is open"),
    (["correction"], "action", ACTION, "cannot plan the corrective action while the nonconformity is "
                                       "correction_recorded: record the root cause next"),
    (["correction"], "correction", CORRECTION, "cannot record the correction while the nonconformity is "
                                               "correction_recorded"),
    (["correction", "cause", "action"], "close", {}, "verify the action's effectiveness next"),
])
def test_invalid_transitions_answer_409_and_write_nothing(world: World, done: list[str], command: str,
                                                          body: dict[str, Any], reason: str) -> None:
    bodies = {"correction": CORRECTION, "cause": CAUSE, "action": ACTION}
    for previous in done:
        assert act(world, SEC, previous, bodies[previous]).status_code == 200
    before_audit = audit_count(world)
    before = world.call(SEC, "GET", f"/nonconformities/{KEY}").json()
    response = act(world, SEC, command, body)
    assert response.status_code == 409
    assert reason in response.json()["detail"]
    assert world.call(SEC, "GET", f"/nonconformities/{KEY}").json() == before
    assert audit_count(world) == before_audit


def test_closed_and_retracted_are_terminal(world: World) -> None:
    with world.eiso.engine.begin() as conn:
        conn.execute(NonconformityRow.__table__.update().where(  # type: ignore[attr-defined]
            NonconformityRow.__table__.c.key == KEY).values(status="retracted"))  # type: ignore[attr-defined]
    response = act(world, SEC, "correction", CORRECTION)
    assert response.status_code == 409 and "retracted" in response.json()["detail"]
    listed = world.call(SEC, "GET", "/nonconformities").json()["items"]
    assert KEY not in [n["key"] for n in listed]
    shown = world.call(SEC, "GET", "/nonconformities", params={"include_retracted": True}).json()["items"]
    assert KEY in [n["key"] for n in shown]


@pytest.mark.parametrize(("command", "body", "fragment"), [
    ("correction", {}, "correction"),
    ("correction", {"correction": ""}, "at least 1 character"),
    ("correction", {"correction": "x", "by": "me"}, "Extra inputs are not permitted"),
    ("correction", {"correction": 5}, "valid string"),
    ("cause", {"cause": "x", "category": "bad luck"}, "category"),
    ("action", {**ACTION, "due": "2026-02-30"}, "due"),
    ("action", {**ACTION, "due": "2026-03-01"}, "in the past"),
    ("action", {**ACTION, "due": "0001-01-01"}, "year"),
    ("verification", {"verification": "x", "effective": "perhaps"}, "effective"),
])
def test_bad_bodies_answer_422_and_write_nothing(world: World, command: str, body: dict[str, Any],
                                                 fragment: str) -> None:
    if command != "correction":
        for previous, prior in (("correction", CORRECTION), ("cause", CAUSE), ("action", ACTION)):
            if previous == command:
                break
            assert act(world, SEC, previous, prior).status_code == 200
    before = audit_count(world)
    response = act(world, SEC, command, body)
    assert response.status_code == 422, response.text
    assert fragment in response.text
    assert audit_count(world) == before


def test_malformed_json_is_a_clear_422(world: World) -> None:
    response = world.call(SEC, "POST", f"/nonconformities/{KEY}/correction", content=b'{"correction": ',
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "JSON decode error" in response.json()["detail"]


def test_the_engine_never_clobbers_the_cycle(world: World) -> None:
    """An overdue step's record is worked on, then the step completes: the engine updates the same record."""
    events = late_case("OWN-2", "000.31.12.H10", "own2")
    for obj in events[:2]:
        assert world.eiso.service.ingest_object(obj, "test").status == "applied"
    world.eiso.service.watch(datetime.fromisoformat("2026-03-06T08:00:00+07:00"))
    key = nc_key("OWN-2")
    overdue = world.call(SEC, "GET", f"/nonconformities/{key}").json()
    assert overdue["type"] == "step_overdue"
    assert act(world, SEC, "correction", CORRECTION, key).status_code == 200
    assert world.eiso.service.ingest_object(events[2], "test").status == "applied"
    after = world.call(SEC, "GET", f"/nonconformities/{key}").json()
    assert after["type"] == "step_late" and after["delay_working_hours"] == 19.5
    assert after["status"] == "correction_recorded"
    assert after["corrective_action"]["correction"] == CORRECTION["correction"]


def test_status_changes_reach_the_outbox_when_kafka_is_on(database_url: str, world: World) -> None:
    settings = Settings(database=DatabaseSettings(url=database_url), engine=EngineSettings(outbox=True))
    with_outbox = build(settings, clock=world.clock)
    try:
        with TestClient(create_app(with_outbox)) as client:
            response = client.post(f"/nonconformities/{KEY}/correction", json=CORRECTION, headers=world.headers(SEC))
        assert response.status_code == 200, response.text
        with Session(world.eiso.engine) as session:
            ids = session.connection().execute(select(col(OutboxMessage.message_id))).scalars().all()
        assert f"nc:{KEY}:step_late:correction_recorded" in ids
    finally:
        with_outbox.engine.dispose()


def test_the_audit_log_refuses_update_and_delete_in_the_database(world: World) -> None:
    assert act(world, SEC, "correction", CORRECTION).status_code == 200
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), world.eiso.engine.begin() as conn:
            conn.execute(text(statement))
    with Session(world.eiso.engine) as session:
        assert session.get(CorrectiveAction, KEY) is not None
    assert audit_count(world) >= 1
