"""POST /events: an answer per event, the same validation and idempotency as Kafka, scope, limits."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from engine.api.roles import Role
from engine.api.settings import ApiSettings
from engine.store.tables import JournalEntry, ParkedEvent, RefusedEvent
from tests.api.support import OTHER_AGENCY, OTHER_CASE, OWN_AGENCY, World, event, late_case, make_world

CONN = Role.connector


def count(world: World, table: Any) -> int:
    with Session(world.eiso.engine) as session:
        return int(session.connection().execute(select(func.count()).select_from(table)).scalar_one())


def test_each_event_gets_its_answer(world: World) -> None:
    events: list[Any] = [
        *late_case("NEW-1", OWN_AGENCY, "new"),
        event("new-4", "step.completed", "2026-03-06 15:00", "NEW-2", OWN_AGENCY, "receive"),
        {"event_id": "bad-1", "type": "case.exploded", "case_id": "NEW-1", "agency": OWN_AGENCY,
         "procedure": "9.000001", "occurred_at": "yesterday"},
        "not an object",
        {"event_id": "nul", "type": "case.received", "case_id": "A\u0000B", "agency": OWN_AGENCY},
    ]
    response = world.call(CONN, "POST", "/events", json=events)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["applied"] * 3 + ["parked", "refused", "refused", "refused"]
    assert [r["index"] for r in body["results"]] == list(range(7))
    assert body["results"][2]["nonconformities"] == [{"key": "NEW-1:step_timeliness:1", "type": "step_late",
                                                      "step": "appraise"}]
    assert "has not been received" in body["results"][3]["reason"]
    refused = body["results"][4]
    assert refused["event_id"] == "bad-1"
    assert "unknown type 'case.exploded'" in refused["reason"] and "occurred_at" in refused["reason"]
    assert "must be a JSON object" in body["results"][5]["reason"]
    assert "NUL" in body["results"][6]["reason"] and body["results"][6]["event_id"] == "nul"
    assert (body["applied"], body["parked"], body["refused"], body["duplicate"]) == (3, 1, 3, 0)
    again = world.call(CONN, "POST", "/events", json=events[:4]).json()
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 4
    assert count(world, RefusedEvent) == 3


def test_out_of_scope_events_refuse_the_whole_batch(world: World) -> None:
    journal, parked = count(world, JournalEntry), count(world, ParkedEvent)
    foreign = event("f-1", "case.received", "2026-03-10 08:00", "FOREIGN-1", OTHER_AGENCY)
    mine = event("m-1", "case.received", "2026-03-10 08:00", "MINE-1", OWN_AGENCY)
    response = world.call(CONN, "POST", "/events", json=[mine, foreign])
    assert response.status_code == 403
    assert "index 1" in response.json()["detail"]
    # an event that names another agency's case under the connector's own agency code
    disguised = event("d-1", "step.completed", "2026-03-10 09:00", OTHER_CASE, OWN_AGENCY, "review")
    assert world.call(CONN, "POST", "/events", json=[disguised]).status_code == 403
    assert (count(world, JournalEntry), count(world, ParkedEvent)) == (journal, parked)
    assert world.call(Role.admin, "POST", "/events", json=[foreign]).json()["applied"] == 1


def test_batch_limits_and_bad_bodies(app: Any, clock: Any) -> None:
    world = make_world(app, clock, ApiSettings(max_batch=2, max_json_bytes=4096))
    with world.client:
        journal = count(world, JournalEntry)
        three = late_case("NEW-1", OWN_AGENCY, "new")
        too_many = world.call(CONN, "POST", "/events", json=three)
        assert too_many.status_code == 422 and "the limit is 2" in too_many.json()["detail"]
        padded = [{**three[0], "data": {"note": "x" * 5000}}]
        assert world.call(CONN, "POST", "/events", json=padded).status_code == 413

        def chunks() -> Any:
            yield b"["
            for _ in range(100):
                yield json.dumps(three[0]).encode() + b","
            yield b"{}]"

        chunked = world.call(CONN, "POST", "/events", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
        assert "the limit is 4,096 bytes" in chunked.json()["detail"]
        malformed = world.call(CONN, "POST", "/events", content=b"[{\"event_id\": ",
                               headers={"Content-Type": "application/json"})
        assert malformed.status_code == 422 and "JSON decode error" in malformed.json()["detail"]
        assert world.call(CONN, "POST", "/events", json={"event_id": "x"}).status_code == 422
        assert count(world, JournalEntry) == journal


def test_connector_reads_nothing(world: World) -> None:
    assert world.call(CONN, "GET", "/cases").status_code == 403
    assert world.call(CONN, "GET", "/me").json() == {"name": "connector-user", "role": "connector",
                                                     "agencies": ["000.00.12.H10"], "all_agencies": False}


def test_bad_years_and_disguised_ids_are_refused_one_by_one(world: World) -> None:
    """Years outside 1970–2200 answered 500 (or were stored, then unreadable); a case id with a trailing
    space slipped past the agency check and its refusal named the other agency."""
    years = ["0001-01-01T00:00:00+07:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00Z",
             "1900-03-10T08:00:00+07:00", "3000-03-10T08:00:00+07:00"]
    events: list[Any] = [event(f"y{n}", "case.received", "2026-03-10 08:00", f"Y-{n}", OWN_AGENCY)
                         | {"occurred_at": when} for n, when in enumerate(years)]
    events.append(event("sp", "step.completed", "2026-03-10 09:00", OTHER_CASE + " ", OWN_AGENCY, "review"))
    events.append(event("ok", "case.received", "2026-03-10 08:00", "Y-OK", OWN_AGENCY))
    response = world.call(CONN, "POST", "/events", json=events)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["refused"] * 6 + ["applied"]
    assert all("the year must be between 1970 and 2200" in r["reason"] for r in results[:5])
    assert "surrounding whitespace" in results[5]["reason"]
    assert OTHER_AGENCY not in response.text
    for n in range(len(years)):
        assert world.call(Role.admin, "GET", f"/cases/Y-{n}").status_code == 404
    assert world.call(Role.admin, "GET", "/cases/Y-OK").status_code == 200


def test_a_reused_event_id_is_a_conflict_that_reveals_nothing(world: World) -> None:
    """The other agency's case used event id 'other-2' (see support.late_case); ours is refused, kept."""
    mine = event("other-2", "case.received", "2026-03-10 08:00", "MINE-2", OWN_AGENCY)
    result = world.call(CONN, "POST", "/events", json=[mine]).json()["results"][0]
    assert result["status"] == "refused" and "event id conflict" in result["reason"]
    assert OTHER_CASE not in result["reason"] and OTHER_AGENCY not in result["reason"]
    table = RefusedEvent.__table__  # type: ignore[attr-defined]
    with world.eiso.engine.connect() as conn:
        kept = conn.execute(select(table.c.raw).where(table.c.event_id == "other-2")).scalars().all()
    assert [json.loads(raw)["case_id"] for raw in kept] == ["MINE-2"]
