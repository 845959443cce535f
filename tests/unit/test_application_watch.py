"""The watch use case on a fake store: an overdue step is raised once, and its row flagged."""

from __future__ import annotations

from engine.application.ingest import CaseService
from engine.core.clock import ManualClock
from tests.unit.engine_harness import calendar, vn
from tests.unit.fake_store import FakeCaseStore, FakeCatalog
from tests.unit.test_application_ingest import deploy, ev


def test_the_watcher_raises_an_overdue_step_once() -> None:
    store, catalog = FakeCaseStore(), FakeCatalog()
    deploy(catalog)
    service = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)
    service.ingest_object(ev("w1", "case.received", "2026-03-02 08:00"), "test")
    assert service.watch(vn("2026-03-02 09:00")).nonconformities == []  # not due yet
    due = service.next_due(vn("2026-03-02 09:00"))
    assert due is not None and due > vn("2026-03-02 09:00")

    first = service.watch(vn("2026-03-03 09:00"))
    assert [(n.type, n.step) for n in first.nonconformities] == [("step_overdue", "receive")]
    assert first.cases == 1 and first.failed == []
    key = first.nonconformities[0].key
    assert store.rows.nonconformities[key]["status"] == "open"
    assert [e["type"] for e in store.rows.journal] == ["case.received", "watch.tick"]
    assert any(row["overdue_flagged"] for row in store.rows.steps.values())

    again = service.watch(vn("2026-03-03 09:00"))
    assert again.nonconformities == [] and again.cases == 0  # flagged: not selected again


def test_a_case_raised_by_the_watcher_reads_the_same_from_the_rows() -> None:
    store, catalog = FakeCaseStore(), FakeCatalog()
    deploy(catalog)
    service = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)
    service.ingest_object(ev("w1", "case.received", "2026-03-02 08:00"), "test")
    service.watch(vn("2026-03-03 09:00"))
    service.forget_cache()
    outcome = service.ingest_object(ev("w2", "step.completed", "2026-03-03 10:00", "receive"), "test")
    assert [(n.type, n.step) for n in outcome.nonconformities] == [("step_late", "receive")]
