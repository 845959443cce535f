"""The ingest use case on a fake store: applied, duplicate, parked then applied on receipt, refused."""

from __future__ import annotations

from typing import Any

import pytest

from engine.application.ingest import CaseService
from engine.core.clock import ManualClock
from engine.core.events import parse_event
from tests.unit.engine_harness import FIXTURES, at, calendar, vn
from tests.unit.fake_store import FakeCaseStore, FakeCatalog

PROCEDURE = FIXTURES / "test-procedure.bpmn"


def ev(event_id: str, type_: str, when: str, step: str | None = None, case_id: str = "C-1",
       **extra: Any) -> dict[str, Any]:
    obj = {"event_id": event_id, "type": type_, "case_id": case_id, "agency": "000.00.01.H10",
           "procedure": "9.000001", "occurred_at": at(when), **extra}
    if step:
        obj["step"] = step
    return obj


@pytest.fixture
def store() -> FakeCaseStore:
    return FakeCaseStore()


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
def service(store: FakeCaseStore, catalog: FakeCatalog) -> CaseService:
    return CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)


def deploy(catalog: FakeCatalog) -> None:
    catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, vn("2026-03-01 08:00"))


def test_an_event_is_applied_with_its_journal_row_and_case_row(service: CaseService, store: FakeCaseStore,
                                                               catalog: FakeCatalog) -> None:
    deploy(catalog)
    outcome = service.ingest_object(ev("a1", "case.received", "2026-03-02 08:00"), "test")
    assert outcome.status == "applied"
    assert [e["event_id"] for e in store.rows.journal] == ["a1"]
    assert store.rows.cases["C-1"]["procedure"] == "9.000001"
    assert store.rows.cases["C-1"]["event_count"] == 1
    assert store.committed == 1


def test_the_same_event_twice_is_a_duplicate_and_changes_nothing(service: CaseService, store: FakeCaseStore,
                                                                 catalog: FakeCatalog) -> None:
    deploy(catalog)
    event = ev("a1", "case.received", "2026-03-02 08:00")
    service.ingest_object(event, "test")
    service.forget_cache()  # asked of the store, not the cache
    outcome = service.ingest_object(event, "test")
    assert outcome.status == "duplicate"
    assert len(store.rows.journal) == 1
    assert store.rows.refused == []


def test_an_id_reused_for_another_event_is_refused_and_kept(service: CaseService, store: FakeCaseStore,
                                                            catalog: FakeCatalog) -> None:
    deploy(catalog)
    service.ingest_object(ev("a1", "case.received", "2026-03-02 08:00"), "test")
    outcome = service.ingest_object(ev("a1", "step.completed", "2026-03-02 09:00", "receive"), "test")
    assert (outcome.status, outcome.conflict) == ("refused", True)
    assert [r["source"] for r in store.rows.refused] == ["event id conflict"]


def test_events_before_their_case_are_parked_then_applied_on_receipt(service: CaseService, store: FakeCaseStore,
                                                                     catalog: FakeCatalog) -> None:
    deploy(catalog)
    parked = service.ingest_object(ev("s1", "step.completed", "2026-03-02 09:00", "receive"), "test")
    assert (parked.status, parked.reason) == ("parked", "case C-1 has not been received")
    assert [p["event_id"] for p in store.rows.parked.values()] == ["s1"]
    received = service.ingest_object(ev("r1", "case.received", "2026-03-02 08:00"), "test")
    assert received.status == "applied"
    assert store.rows.parked == {}
    assert [e["event_id"] for e in store.rows.journal] == ["r1", "s1"]


def test_a_receipt_before_its_procedure_is_parked_and_applied_when_it_is_deployed(
        service: CaseService, store: FakeCaseStore, catalog: FakeCatalog) -> None:
    outcome = service.ingest_object(ev("r1", "case.received", "2026-03-02 08:00"), "test")
    assert (outcome.status, outcome.reason) == ("parked", "procedure 9.000001 is not deployed")
    deploy(catalog)
    assert [o.status for o in service.retry_parked("9.000001")] == ["applied"]
    assert store.rows.parked == {}


def test_an_invalid_line_is_refused_with_its_problems(service: CaseService, store: FakeCaseStore) -> None:
    outcome = service.ingest_line('{"event_id": "x1", "type": "case.received"}', "file.jsonl:1")
    assert outcome.status == "refused"
    assert [(r["event_id"], r["source"]) for r in store.rows.refused] == [("x1", "file.jsonl:1")]
    assert store.rows.journal == []


def test_a_batch_is_one_transaction_and_ends_as_events_one_by_one(store: FakeCaseStore,
                                                                   catalog: FakeCatalog) -> None:
    deploy(catalog)
    events = [ev("b1", "case.received", "2026-03-02 08:00"), ev("b2", "step.completed", "2026-03-02 09:00", "receive"),
              ev("b1", "case.received", "2026-03-02 08:00")]
    batched = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)
    outcomes = batched.ingest_batch([parse_event(e) for e in events])
    assert [o.status for o in outcomes] == ["applied", "applied", "duplicate"]
    assert store.committed == 1
    one_by_one = FakeCaseStore()
    single = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=one_by_one)
    assert [single.ingest_object(e, "test").status for e in events] == ["applied", "applied", "duplicate"]
    assert one_by_one.rows.cases == store.rows.cases
    assert one_by_one.rows.steps == store.rows.steps


def test_a_stale_case_is_read_again_and_applied(service: CaseService, store: FakeCaseStore,
                                                catalog: FakeCatalog) -> None:
    """Another writer applied an event to the case since this process cached it: read again, applied."""
    deploy(catalog)
    other = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)
    service.ingest_object(ev("a1", "case.received", "2026-03-02 08:00"), "test")
    other.ingest_object(ev("a2", "step.completed", "2026-03-02 09:00", "receive"), "test")
    assert "C-1" in service._cache  # a copy one event behind the rows
    loads = store.loads
    outcome = service.ingest_object(ev("a3", "step.completed", "2026-03-06 14:00", "appraise"), "test")
    assert outcome.status == "applied"
    assert store.loads == loads + 1  # the stale copy was dropped and the case rebuilt from the rows
    assert store.rows.cases["C-1"]["event_count"] == 3
