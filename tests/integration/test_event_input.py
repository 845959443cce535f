"""Events entering the engine (SQLite and PostgreSQL): refused cleanly, never lost, never crossed.

Years outside 1970–2200, identifiers with surrounding whitespace or control characters, agency
codes outside Decision 20/2020/QĐ-TTg's format, an event id reused for another event (a conflict),
an event naming another procedure than its case's, and events dated before the case's receipt or
before their step was handed over: each is refused with its reason and kept, the case unchanged,
and the events after it are applied.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from engine.bootstrap import App
from engine.core.events import EventInvalid, parse_event_line
from engine.service import ingest_lines
from engine.store.queries import Presenter, case_detail
from engine.store.tables import JournalEntry, ParkedEvent, RefusedEvent
from tests.conftest import FIXTURES
from tests.integration.test_service_store import deploy, ev
from tests.unit.engine_harness import at

PROCEDURE = FIXTURES / "test-procedure.bpmn"


def refused_rows(app: App) -> list[RefusedEvent]:
    with Session(app.engine) as session:
        return list(session.exec(select(RefusedEvent).order_by(col(RefusedEvent.id))).all())


def journal_count(app: App, event_id: str) -> int:
    with Session(app.engine) as session:
        statement = sql_select(func.count()).select_from(JournalEntry).where(col(JournalEntry.event_id) == event_id)
        return int(session.connection().execute(statement).scalar_one())


def detail(app: App, case_id: str = "C-1") -> dict[str, Any]:
    found = case_detail(app.engine, case_id, Presenter(app.calendar))
    assert found is not None
    return found


# -- item 2: years ----------------------------------------------------------------------------------

BAD_YEARS = {
    "y1-offset": "0001-01-01T00:00:00+07:00",
    "y9999-offset": "9999-12-31T23:00:00-05:00",
    "y1-utc": "0001-01-01T00:00:00Z",
    "y1900": "1900-03-02T08:00:00+07:00",
    "y3000": "3000-03-02T08:00:00+07:00",
    "y1969": "1969-12-31T23:59:59+07:00",
    "y2201": "2201-01-01T00:00:00+07:00",
}


def test_years_outside_1970_2200_are_refused_and_ingest_carries_on(app: App) -> None:
    deploy(app)
    lines = [json.dumps(ev(name, "case.received", "2026-03-02 08:00", case_id=f"Y-{name}") | {"occurred_at": when})
             for name, when in BAD_YEARS.items()]
    lines.append(json.dumps(ev("due-3000", "case.received", "2026-03-02 08:00", case_id="Y-due")
                            | {"due_at": "3000-01-01T00:00:00+07:00"}))
    lines.append(json.dumps(ev("fine", "case.received", "2026-03-02 08:00", case_id="Y-fine")))
    outcomes = list(ingest_lines(app.service, lines, "file"))
    assert [o.status for o in outcomes] == ["refused"] * (len(BAD_YEARS) + 1) + ["applied"]
    for outcome in outcomes[:-1]:
        assert "the year must be between 1970 and 2200" in (outcome.reason or ""), outcome.reason
    assert len(refused_rows(app)) == len(BAD_YEARS) + 1
    assert detail(app, "Y-fine")["status"] == "open"


def test_the_same_years_are_refused_from_kafka_messages() -> None:
    from connectors.decoding import Decoder

    for name, when in BAD_YEARS.items():
        value = json.dumps(ev(name, "case.received", "2026-03-02 08:00") | {"occurred_at": when}).encode()
        try:
            Decoder().decode(value, "contract")
        except EventInvalid as err:
            assert "the year must be between 1970 and 2200" in str(err)
        else:
            raise AssertionError(f"{name} was accepted")


def test_the_boundary_years_are_applied_and_read_back(app: App) -> None:
    """2200-12-31 plus a long statutory limit: no overflow when applied, read or watched years later."""
    long_limit = PROCEDURE.read_bytes().replace(b'value="P5D"', b'value="P1000D"')
    deploy(app, source=long_limit)
    late = ev("late", "case.received", "2026-03-02 08:00", case_id="B-late") | {
        "occurred_at": "2200-12-31T16:30:00+07:00", "due_at": "2200-12-31T23:59:59-12:00"}
    early = ev("early", "case.received", "2026-03-02 08:00", case_id="B-early") | {
        "occurred_at": "1970-01-01T00:00:00+14:00"}
    assert [app.service.ingest_object(e, "t").status for e in (late, early)] == ["applied", "applied"]
    shown = detail(app, "B-late")
    assert shown["due_at"].startswith("2204-") or shown["due_at"].startswith("2205-"), shown["due_at"]
    assert detail(app, "B-early")["status"] == "open"
    app.service.forget_cache()
    raised = app.service.watch_case("B-late", datetime.fromisoformat("2206-01-01T00:00:00+00:00"))
    assert [n.type for n in raised] == ["step_overdue", "case_overdue", "missing_apology"]


# -- items 8 and 10: identifiers and agency codes ------------------------------------------------------

def test_identifiers_with_surrounding_whitespace_or_control_characters_are_refused(app: App) -> None:
    deploy(app)
    app.service.ingest_object(ev("w1", "case.received", "2026-03-02 08:00"), "t")
    broken = {
        "case id with a trailing space": ev("w2", "step.completed", "2026-03-02 09:00", "receive", case_id="C-1 "),
        "event id with a leading tab": ev("\tw3", "step.completed", "2026-03-02 09:00", "receive"),
        "agency with a newline": ev("w4", "step.completed", "2026-03-02 09:00", "receive")
        | {"agency": "000.00.01.H10\n"},
        "procedure with a space": ev("w5", "step.completed", "2026-03-02 09:00", "receive")
        | {"procedure": " 9.000001"},
        "step with a control character": ev("w6", "step.completed", "2026-03-02 09:00", "rec\x07eive"),
        "case id with a DEL": ev("w7", "step.completed", "2026-03-02 09:00", "receive", case_id="C-\x7f1"),
    }
    for name, obj in broken.items():
        outcome = app.service.ingest_object(obj, "t")
        assert outcome.status == "refused", name
        assert "surrounding whitespace" in (outcome.reason or "") or "control character" in (outcome.reason or ""), \
            (name, outcome.reason)
    assert detail(app)["steps"][0]["completed_at"] is None


def test_agency_codes_must_have_the_decision_20_2020_format(app: App) -> None:
    deploy(app)
    for code in ("%", "a b", "A", "000.00.12.h10", "000.00.12.H10.1", "0.00.12.H10", "000.00.12.H1O", "٠٠٠.00.12.H10"):
        outcome = app.service.ingest_object(ev(f"a-{code}", "case.received", "2026-03-02 08:00") | {"agency": code},
                                            "t")
        assert outcome.status == "refused" and "is not an agency code" in (outcome.reason or ""), code
    assert app.service.ingest_object(ev("ok", "case.received", "2026-03-02 08:00"), "t").status == "applied"


# -- item 5: event id conflicts ---------------------------------------------------------------------

def test_same_id_same_content_is_a_duplicate_different_content_a_conflict(app: App) -> None:
    deploy(app)
    first = ev("x1", "case.received", "2026-03-02 08:00")
    assert app.service.ingest_object(first, "t").status == "applied"
    same_instant = first | {"occurred_at": "2026-03-02T01:00:00Z"}  # the same event, written in UTC
    again = app.service.ingest_object(same_instant, "t")
    assert again.status == "duplicate" and not again.conflict
    other = ev("x1", "case.received", "2026-03-02 08:00", case_id="C-2")
    conflict = app.service.ingest_object(other, "t")
    assert conflict.status == "refused" and conflict.conflict
    assert "event id conflict" in (conflict.reason or "") and "C-1" not in (conflict.reason or "")
    app.service.forget_cache()
    assert app.service.ingest_object(other, "t").conflict  # from the database too, not only memory
    kept = [r for r in refused_rows(app) if r.source == "event id conflict"]
    assert len(kept) == 2 and json.loads(kept[0].raw)["case_id"] == "C-2"
    assert journal_count(app, "x1") == 1
    assert case_detail(app.engine, "C-2", Presenter(app.calendar)) is None


def test_a_repeated_fact_with_updated_annotations_is_a_duplicate(app: App) -> None:
    """The national portal re-sends earlier facts with the dossier's current data: not a conflict."""
    deploy(app)
    first = ev("n1", "case.received", "2026-03-02 08:00")
    assert app.service.ingest_object(first, "t").status == "applied"
    updated = first | {"data": {"eligible": True}, "actor": {"unit": "One-Stop"}, "reason": "re-sent"}
    again = app.service.ingest_object(updated, "t")
    assert again.status == "duplicate" and not again.conflict
    later = app.service.ingest_object(first | {"occurred_at": at("2026-03-02 08:05")}, "t")
    assert later.status == "refused" and later.conflict


def test_identifiers_longer_than_the_store_keeps_are_refused(app: App) -> None:
    """A 300-character case id, a 40-character procedure or a 400-character event id answered 500 on
    PostgreSQL (value too long for the column)."""
    deploy(app)
    too_long = [ev("l1", "case.received", "2026-03-02 08:00", case_id="C" * 201),
                ev("l2", "case.received", "2026-03-02 08:00") | {"procedure": "9" * 33},
                ev("e" * 176, "case.received", "2026-03-02 08:00"),
                ev("l4", "step.completed", "2026-03-02 09:00", "s" * 256)]
    outcomes = [app.service.ingest_object(obj, "t") for obj in too_long]
    assert [o.status for o in outcomes] == ["refused"] * 4
    assert all("characters" in (o.reason or "") for o in outcomes)
    longest = ev("e" * 175, "case.received", "2026-03-02 08:00", case_id="C" * 200)
    assert app.service.ingest_object(longest, "t").status == "applied"
    request = ev("f" * 175, "case.supplement_requested", "2026-03-09 08:00", case_id="C" * 200)
    outcome = app.service.ingest_object(request, "t")
    assert outcome.status == "applied" and "late_supplement_request" in [n.type for n in outcome.nonconformities]


def test_another_agency_cannot_take_an_event_id(app: App) -> None:
    """B's connector sent an id first (its case not received yet: parked); A's real event is a conflict."""
    deploy(app)
    squatter = ev("shared", "step.completed", "2026-03-02 09:00", "receive", case_id="B-1") | {
        "agency": "000.00.02.H10"}
    assert app.service.ingest_object(squatter, "t").status == "parked"
    app.service.ingest_object(ev("a-rec", "case.received", "2026-03-02 08:00"), "t")
    real = ev("shared", "step.completed", "2026-03-02 09:00", "receive")
    outcome = app.service.ingest_object(real, "t")
    assert outcome.status == "refused" and outcome.conflict
    assert "B-1" not in (outcome.reason or "") and "000.00.02.H10" not in (outcome.reason or "")
    with Session(app.engine) as session:
        assert len(session.exec(select(ParkedEvent)).all()) == 1
    assert json.loads(refused_rows(app)[-1].raw)["agency"] == "000.00.01.H10"


def test_conflicts_are_found_in_a_batch_too(app: App) -> None:
    deploy(app)
    app.service.ingest_object(ev("b1", "case.received", "2026-03-02 08:00"), "t")
    batch = [parse_event_line(json.dumps(obj)) for obj in (
        ev("b1", "case.received", "2026-03-02 08:00"),                               # duplicate of the journal
        ev("b1", "case.received", "2026-03-02 08:30"),                               # conflict with the journal
        ev("b2", "step.completed", "2026-03-02 09:00", "receive"),                   # applied
        ev("b2", "step.completed", "2026-03-02 09:00", "receive"),                   # duplicate within the batch
        ev("b2", "step.completed", "2026-03-02 09:30", "receive"),                   # conflict within the batch
        ev("b3", "step.completed", "2026-03-02 09:00", "receive", case_id="NEW-1"),  # parked
        ev("b3", "step.completed", "2026-03-02 09:00", "review", case_id="NEW-1"),   # conflict with the parked one
    )]
    outcomes = app.service.ingest_batch(batch)
    assert [(o.status, o.conflict) for o in outcomes] == [
        ("duplicate", False), ("refused", True), ("applied", False), ("duplicate", False), ("refused", True),
        ("parked", False), ("refused", True)]
    assert journal_count(app, "b2") == 1
    assert detail(app)["steps"][0]["completed_at"] is not None


# -- items 15 and 16: the case's procedure, and the order of time ---------------------------------------

def test_an_event_naming_another_procedure_is_refused(app: App) -> None:
    deploy(app)
    app.service.ingest_object(ev("p1", "case.received", "2026-03-02 08:00"), "t")
    other = ev("p2", "step.completed", "2026-03-02 09:00", "receive") | {"procedure": "9.000002"}
    outcome = app.service.ingest_object(other, "t")
    assert outcome.status == "refused" and "names procedure '9.000002'" in (outcome.reason or "")
    assert detail(app)["steps"][0]["completed_at"] is None
    assert journal_count(app, "p2") == 0 and refused_rows(app)[-1].event_id == "p2"


def test_events_dated_before_the_receipt_or_the_handover_are_refused(app: App) -> None:
    deploy(app)
    app.service.ingest_object(ev("t1", "case.received", "2026-03-02 08:00"), "t")
    app.service.ingest_object(ev("t2", "step.completed", "2026-03-02 10:00", "receive"), "t")  # appraise from 10:00
    refused = [
        ev("t3", "case.suspended", "2026-03-01 08:00"),                          # before the receipt
        ev("t4", "step.completed", "2026-03-02 09:00", "appraise"),              # before its handover
        ev("t5", "step.started", "2026-03-02 09:30", "appraise"),                # started before the handover
        ev("t6", "step.completed", "2026-03-02 09:59", "review"),                # bypassing appraise, before it began
    ]
    outcomes = [app.service.ingest_object(e, "t") for e in refused]
    assert [o.status for o in outcomes] == ["refused"] * 4, [o.reason for o in outcomes]
    assert "before case C-1 was received" in (outcomes[0].reason or "")
    for outcome in outcomes[1:]:
        assert "before step" in (outcome.reason or "") and "became active" in (outcome.reason or "")
    shown = detail(app)
    assert shown["status"] == "open" and len(shown["steps"]) == 2 and shown["steps"][1]["completed_at"] is None
    assert app.service.ingest_object(ev("t7", "step.completed", "2026-03-02 10:00", "appraise"), "t").status \
        == "applied"
    app.service.forget_cache()
    assert detail(app)["steps"][1]["timeliness"] == "early"
