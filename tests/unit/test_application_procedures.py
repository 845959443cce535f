"""Deploy then retry parked events, and retire, as use cases: each change audited in its transaction."""

from __future__ import annotations

from engine.application import procedures
from engine.application.ingest import CaseService
from engine.core.clock import ManualClock
from engine.store.tables_api import AuditEntry
from tests.unit.engine_harness import calendar, vn
from tests.unit.fake_store import FakeCaseStore, FakeCatalog
from tests.unit.test_application_ingest import PROCEDURE, ev

ADMIN = procedures.Actor("an", "admin")


def test_a_new_version_is_audited_and_applies_the_events_parked_for_it() -> None:
    store, catalog = FakeCaseStore(), FakeCatalog()
    service = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)
    assert service.ingest_object(ev("r1", "case.received", "2026-03-02 08:00"), "test").status == "parked"
    assert service.ingest_object(ev("s1", "step.completed", "2026-03-02 09:00", "receive"), "test").status == "parked"

    deployed = procedures.deploy(catalog, service, PROCEDURE.read_bytes(), PROCEDURE.name, [],
                                 vn("2026-03-01 08:00"), ADMIN)
    assert (deployed.deployment.code, deployed.deployment.version, deployed.deployment.created) == ("9.000001", 1,
                                                                                                     True)
    assert deployed.applied == 2
    assert store.rows.parked == {}
    [entry] = catalog.audit
    assert isinstance(entry, AuditEntry)
    assert (entry.action, entry.entity_key, entry.actor, entry.actor_role) == ("procedure.deploy", "9.000001/1",
                                                                               "an", "admin")


def test_the_same_file_again_changes_nothing_and_retries_nothing() -> None:
    store, catalog = FakeCaseStore(), FakeCatalog()
    service = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)
    procedures.deploy(catalog, service, PROCEDURE.read_bytes(), PROCEDURE.name, [], vn("2026-03-01 08:00"), ADMIN)
    again = procedures.deploy(catalog, service, PROCEDURE.read_bytes(), PROCEDURE.name, [], vn("2026-03-01 09:00"),
                              ADMIN)
    assert (again.deployment.created, again.retried, again.applied) == (False, [], 0)
    assert len(catalog.audit) == 1


def test_retire_is_audited_once_and_no_new_case_starts_on_the_version() -> None:
    store, catalog = FakeCaseStore(), FakeCatalog()
    service = CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store)
    procedures.deploy(catalog, service, PROCEDURE.read_bytes(), PROCEDURE.name, [], vn("2026-03-01 08:00"), ADMIN)
    retired = procedures.retire(catalog, "9.000001", 1, "*", vn("2026-03-01 10:00"), ADMIN)
    assert retired is not None and retired.changed
    assert procedures.retire(catalog, "9.000001", 1, "*", vn("2026-03-01 11:00"), ADMIN).changed is False  # type: ignore[union-attr]
    assert procedures.retire(catalog, "9.000001", 2, "*", vn("2026-03-01 11:00"), ADMIN) is None
    assert [e.action for e in catalog.audit] == ["procedure.deploy", "procedure.retire"]
    outcome = service.ingest_object(ev("r1", "case.received", "2026-03-02 08:00"), "test")
    assert (outcome.status, outcome.reason) == ("parked", "procedure 9.000001 is not deployed")
