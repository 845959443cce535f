"""The ingest use case with an agency code history, on the fake store (no database): an event sent with a code
closed when it occurred is applied to the successor, the sent code kept; the case moves forward along the chain."""

from __future__ import annotations

from typing import Any

from engine.application.agency_codes import AgencyCodes
from engine.application.ingest import CaseService
from engine.core.agency_history import AgencyCode, AgencyHistory
from engine.core.clock import ManualClock
from engine.core.events import parse_event
from tests.unit.engine_harness import FIXTURES, at, calendar, vn
from tests.unit.fake_store import FakeCaseStore, FakeCatalog

A, B, C = "000.00.01.H11", "000.00.01.H10", "000.00.01.H12"
HISTORY = AgencyHistory([AgencyCode(A, valid_to=vn("2026-03-04 00:00"), successor=B),
                         AgencyCode(B, valid_to=vn("2026-03-06 00:00"), successor=C), AgencyCode(C)])


def ev(event_id: str, type_: str, when: str, agency: str, step: str | None = None) -> dict[str, Any]:
    obj = {"event_id": event_id, "type": type_, "case_id": "C-1", "agency": agency, "procedure": "9.000001",
           "occurred_at": at(when)}
    if step:
        obj["step"] = step
    return obj


def service(store: FakeCaseStore) -> CaseService:
    catalog = FakeCatalog()
    catalog.deploy((FIXTURES / "test-procedure.bpmn").read_bytes(), "p.bpmn", vn("2026-03-01 08:00"))
    return CaseService(None, catalog, calendar(), ManualClock(vn("2026-03-01 08:00")), store=store,
                       agency_codes=AgencyCodes(lambda: HISTORY))


def test_a_case_follows_the_chain_and_keeps_the_code_it_was_received_with() -> None:
    store = FakeCaseStore()
    cases = service(store)
    assert cases.ingest_object(ev("e1", "case.received", "2026-03-02 08:00", A), "t").status == "applied"
    assert (store.rows.cases["C-1"]["agency"], store.rows.cases["C-1"]["agency_original"]) == (A, None)
    assert cases.ingest_object(ev("e2", "step.completed", "2026-03-04 09:00", A, "receive"), "t").status == "applied"
    assert (store.rows.cases["C-1"]["agency"], store.rows.cases["C-1"]["agency_original"]) == (B, A)
    assert store.rows.journal[-1]["payload"]["agency"] == B
    assert store.rows.journal[-1]["payload"]["agency_original"] == A
    late = ev("e3", "step.completed", "2026-03-06 14:00", B, "appraise")  # B closed too by then: C
    outcome = cases.ingest_object(late, "t")
    assert outcome.status == "applied" and {nc.agency for nc in outcome.nonconformities} == {C}
    assert (store.rows.cases["C-1"]["agency"], store.rows.cases["C-1"]["agency_original"]) == (C, A)
    assert cases.ingest(parse_event(late)).status == "duplicate"


def test_another_lineages_code_is_still_refused() -> None:
    store = FakeCaseStore()
    cases = service(store)
    assert cases.ingest_object(ev("e1", "case.received", "2026-03-02 08:00", B), "t").status == "applied"
    stranger = ev("e2", "step.completed", "2026-03-02 09:00", A, "receive")  # A was not B's before 4 March
    assert cases.ingest_object(stranger, "t").status == "refused"
