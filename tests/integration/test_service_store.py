"""The service on a real database (SQLite and PostgreSQL): idempotency, parking, versions, replay."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from engine.bootstrap import App, build
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, EngineSettings, Settings
from engine.simulation import Deviation, Simulator
from engine.store.queries import Presenter, case_detail, nonconformity_list
from engine.store.tables import CaseSnapshot, JournalEntry, RefusedEvent
from engine.store.tables import ParkedEvent as ParkedEventRow
from tests.conftest import BUNDLED, FIXTURES
from tests.unit.engine_harness import at

PROCEDURE = FIXTURES / "test-procedure.bpmn"


def ev(event_id: str, type_: str, when: str, step: str | None = None, case_id: str = "C-1",
       **extra: Any) -> dict[str, Any]:
    obj = {"event_id": event_id, "type": type_, "case_id": case_id, "agency": "000.00.01.H10",
           "procedure": "9.000001", "occurred_at": at(when), **extra}
    if step:
        obj["step"] = step
    return obj


def deploy(app: App, path: Path = PROCEDURE, source: bytes | None = None) -> Any:
    return app.catalog.deploy(source or path.read_bytes(), path.name, app.clock.now())


def digest(app: App) -> str:
    presenter = Presenter(app.calendar)
    with Session(app.engine) as session:
        case_ids = sorted({row.case_id for row in session.exec(select(JournalEntry)).all()})
    cases = [case_detail(app.engine, cid, presenter) for cid in case_ids]
    ncs = sorted(nonconformity_list(app.engine, presenter), key=lambda n: json.dumps(n, sort_keys=True))
    return hashlib.sha256(json.dumps([cases, ncs], sort_keys=True).encode()).hexdigest()


def test_same_events_twice_change_nothing(app: App) -> None:
    deploy(app)
    events = [
        ev("a1", "case.received", "2026-03-02 08:00"),
        ev("a2", "step.completed", "2026-03-02 09:00", "receive"),
        ev("a3", "step.completed", "2026-03-06 14:00", "appraise"),
    ]
    first = [app.service.ingest_object(e, "test").status for e in events]
    before = digest(app)
    again = [app.service.ingest_object(e, "test").status for e in events]
    app.service.forget_cache()
    third = [app.service.ingest_object(e, "test").status for e in events]
    assert first == ["applied"] * 3
    assert again == third == ["duplicate"] * 3
    assert digest(app) == before
    ncs = nonconformity_list(app.engine, Presenter(app.calendar))
    assert [(n["type"], n["step"], n["delay_working_hours"]) for n in ncs] == [("step_late", "appraise", 19.5)]


def test_unknown_case_is_parked_then_applied(app: App) -> None:
    deploy(app)
    early = app.service.ingest_object(ev("b2", "step.completed", "2026-03-02 09:00", "receive"), "test")
    assert early.status == "parked" and "not been received" in (early.reason or "")
    app.service.ingest_object(ev("b1", "case.received", "2026-03-02 08:00"), "test")
    detail = case_detail(app.engine, "C-1", Presenter(app.calendar))
    assert detail is not None
    assert detail["steps"][0]["completed_at"] == "2026-03-02T09:00:00+07:00"


def test_undeployed_procedure_is_parked_until_deployed(app: App) -> None:
    outcome = app.service.ingest_object(ev("c1", "case.received", "2026-03-02 08:00"), "test")
    assert outcome.status == "parked" and "not deployed" in (outcome.reason or "")
    assert app.service.ingest_object(ev("c1", "case.received", "2026-03-02 08:00"), "test").status == "duplicate"
    deploy(app)
    outcomes = app.service.retry_parked("9.000001")
    assert [o.status for o in outcomes] == ["applied"]
    assert case_detail(app.engine, "C-1", Presenter(app.calendar)) is not None


def test_parked_events_are_retried_a_page_at_a_time(app: App, monkeypatch: Any) -> None:
    """Pages of two: a case's steps parked before its receipt (a later page) are still all applied."""
    monkeypatch.setattr(app.service, "parked_page", 2)
    events = []
    for n in range(3):
        case = f"C-{n}"
        events += [ev(f"s{n}", "step.completed", "2026-03-02 09:00", "receive", case_id=case),
                   ev(f"t{n}", "step.completed", "2026-03-06 14:00", "appraise", case_id=case),
                   ev(f"r{n}", "case.received", "2026-03-02 08:00", case_id=case)]
    assert {app.service.ingest_object(e, "test").status for e in events} == {"parked"}  # not deployed yet
    deploy(app)
    outcomes = app.service.retry_parked("9.000001")
    assert sorted(o.event_id for o in outcomes if o.status == "applied") == sorted(e["event_id"] for e in events)
    with Session(app.engine) as session:
        assert session.exec(select(ParkedEventRow)).all() == []
    for n in range(3):
        detail = case_detail(app.engine, f"C-{n}", Presenter(app.calendar))
        assert detail is not None
        assert [s["completed_at"] for s in detail["steps"][:2]] == ["2026-03-02T09:00:00+07:00",
                                                                     "2026-03-06T14:00:00+07:00"]


def test_invalid_events_are_kept_with_their_problems(app: App) -> None:
    deploy(app)
    bad = ['{"event_id": "x1", "type": "case.teleported"}', "not json at all", "[1, 2]",
           json.dumps(ev("x2", "case.received", "2026-03-02 08:00") | {"occurred_at": "yesterday"})]
    outcomes = [app.service.ingest_line(line, f"file:{i}") for i, line in enumerate(bad, 1)]
    assert [o.status for o in outcomes] == ["refused"] * 4
    assert "unknown type 'case.teleported'" in (outcomes[0].reason or "")
    assert "occurred_at is not an RFC 3339 timestamp" in (outcomes[3].reason or "")
    good = app.service.ingest_object(ev("x3", "case.received", "2026-03-02 08:00"), "test")
    assert good.status == "applied"
    with Session(app.engine) as session:
        kept = session.exec(select(RefusedEvent)).all()
    assert [k.source for k in kept] == ["file:1", "file:2", "file:3", "file:4"]
    assert kept[1].raw == "not json at all"


def test_versions_keep_running_cases_on_their_version(app: App, clock: ManualClock) -> None:
    first = deploy(app)
    assert (first.version, first.created) == (1, True)
    assert deploy(app).created is False  # identical file: no-op
    app.service.ingest_object(ev("d1", "case.received", "2026-03-02 08:00", case_id="OLD"), "test")
    clock.set(clock.now().replace(day=3))
    changed = PROCEDURE.read_bytes().replace(b'value="P2D"', b'value="P3D"')
    second = deploy(app, source=changed)
    assert (second.version, second.created) == (2, True)
    app.service.ingest_object(ev("d2", "case.received", "2026-03-04 08:00", case_id="NEW"), "test")
    presenter = Presenter(app.calendar)
    assert case_detail(app.engine, "OLD", presenter)["procedure_version"] == 1  # type: ignore[index]
    assert case_detail(app.engine, "NEW", presenter)["procedure_version"] == 2  # type: ignore[index]
    assert [v.version for v in app.catalog.versions("9.000001")] == [1, 2]


def test_watcher_raises_once_and_the_case_replays_identically(app: App) -> None:
    deploy(app)
    app.service.ingest_object(ev("w1", "case.received", "2026-03-02 08:00"), "test")
    first = app.service.watch(app.calendar.local(app.clock.now()).replace(day=3, hour=9))
    assert [(n.type, n.step) for n in first.nonconformities] == [("step_overdue", "receive")]
    assert app.service.watch(app.calendar.local(app.clock.now()).replace(day=3, hour=9)).nonconformities == []
    app.service.ingest_object(ev("w2", "step.completed", "2026-03-03 10:00", "receive"), "test")
    before = digest(app)
    app.service.forget_cache()
    app.service.ingest_object(ev("w3", "step.started", "2026-03-03 10:30", "appraise"), "test")
    ncs = nonconformity_list(app.engine, Presenter(app.calendar))
    assert [(n["type"], n["step"]) for n in ncs] == [("step_late", "receive")]
    assert before != digest(app)  # the start was recorded, from a case rebuilt from its journal


def test_simulated_month_replayed_from_snapshots_and_journal(app: App, tmp_path: Path) -> None:
    """Cases rebuilt from snapshot + journal at every event end exactly as cases kept in memory."""
    replaying = build(Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'replay.db'}"),
                               engine=EngineSettings(case_cache_size=0, snapshot_every=3)), clock=app.clock)
    for target in (app, replaying):
        for path in BUNDLED:
            target.catalog.deploy(path.read_bytes(), path.name, app.clock.now().replace(year=2026, month=2))
    procedures = [app.catalog.get(v.code, v.version) for v in app.catalog.versions()]
    deviation = Deviation(supplement=0.2, suspension=0.2, skip_step=0.3, unknown_step=0.1, withdrawn=0.05,
                          rejected=0.05, event_after_close=0.1, second_extension=0.5, repeated_delivery=0.05)
    events = Simulator(procedures, app.calendar, seed=7, deviation=deviation).month(date(2026, 3, 1), 80)
    for target in (app, replaying):
        outcomes = [target.service.ingest_object(e, "sim").status for e in events]
        assert outcomes.count("refused") == 0 and outcomes.count("parked") == 0
        assert outcomes.count("applied") == len({e["event_id"] for e in events})
        target.service.watch(app.calendar.local(app.clock.now()).replace(month=4, day=1, hour=0))
    with Session(replaying.engine) as session:
        assert session.exec(select(CaseSnapshot)).first() is not None
    assert digest(app) == digest(replaying)
    nc_types = {n["type"] for n in nonconformity_list(app.engine, Presenter(app.calendar))}
    assert {"step_late", "step_skipped", "unknown_step", "event_after_close", "late_supplement_request"} <= nc_types


def test_observers_see_each_committed_outcome_with_working_times(app: App) -> None:
    deploy(app)
    seen: list[Any] = []
    app.service.observers.append(seen.append)
    app.service.ingest_object(ev("o1", "case.received", "2026-03-02 08:00"), "test")
    app.service.ingest_object(ev("o2", "step.completed", "2026-03-02 10:30", "receive"), "test")
    app.service.ingest_object(ev("o2", "step.completed", "2026-03-02 10:30", "receive"), "test")
    app.service.ingest_object(ev("o3", "case.result_ready", "2026-03-03 09:00"), "test")
    app.service.ingest_line("{broken", "test")
    assert [(o.status, o.event_type) for o in seen] == [
        ("applied", "case.received"), ("applied", "step.completed"), ("duplicate", "step.completed"),
        ("applied", "case.result_ready"), ("refused", None)]
    assert [(t.step, t.working_seconds, t.timeliness) for t in seen[1].timings] == [("receive", 2.5 * 3600, "on_time")]
    # The case used Mon 08:00-17:00 (7.5 h) and Tue 07:30-09:00 (1.5 h): 9 working hours, early.
    assert [(t.step, t.working_seconds, t.timeliness) for t in seen[3].timings] == [(None, 9 * 3600, "early")]


def test_text_no_database_can_keep_is_refused_and_kept_escaped(app: App) -> None:
    deploy(app)
    nul = ev("n1", "case.received", "2026-03-02 08:00") | {"reason": "bad\x00byte"}
    surrogate = '{"event_id": "n2", "type": "case.received", "case_id": "C-9", "agency": "000.00.01.H10", ' \
        '"procedure": "9.000001", "occurred_at": "2026-03-02T08:00:00+07:00", "reason": "\\udc80"}'
    infinite = '{"event_id": "n3", "type": "case.received", "case_id": "C-9", "agency": "000.00.01.H10", ' \
        '"procedure": "9.000001", "occurred_at": "2026-03-02T08:00:00+07:00", "data": {"area": Infinity}}'
    outcomes = [app.service.ingest_object(nul, "t"), app.service.ingest_line(surrogate, "t"),
                app.service.ingest_line(infinite, "t"), app.service.ingest_line("\x00\x00", "t")]
    assert [o.status for o in outcomes] == ["refused"] * 4
    assert "NUL character" in (outcomes[0].reason or "")
    assert "unpaired surrogate" in (outcomes[1].reason or "")
    assert "Infinity is not a JSON number" in (outcomes[2].reason or "")
    with Session(app.engine) as session:
        kept = session.exec(select(RefusedEvent)).all()
    assert len(kept) == 4 and all("\x00" not in k.raw for k in kept)
    assert kept[3].raw == "\\x00\\x00"  # shown escaped, as it came


def test_an_event_naming_another_agency_is_refused_not_applied(app: App) -> None:
    deploy(app)
    app.service.ingest_object(ev("g1", "case.received", "2026-03-02 08:00"), "test")
    stranger = ev("g2", "step.completed", "2026-03-02 09:00", "receive") | {"agency": "000.99.99.H10"}
    outcome = app.service.ingest_object(stranger, "test")
    assert outcome.status == "refused" and "is not the agency of case C-1" in (outcome.reason or "")
    assert "000.00.01.H10" not in (outcome.reason or "")  # the case's own agency is never revealed
    detail = case_detail(app.engine, "C-1", Presenter(app.calendar))
    assert detail is not None and detail["steps"][0]["completed_at"] is None


def test_a_deployment_and_what_goes_with_it_are_one_transaction(app: App) -> None:
    def failing(session: Any, deployment: Any) -> None:
        raise RuntimeError("the audit entry could not be written")

    import pytest

    with pytest.raises(RuntimeError):
        app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, app.clock.now(), within=failing)
    assert app.catalog.versions() == []
    assert deploy(app).version == 1
