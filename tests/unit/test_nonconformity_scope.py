"""A nonconformity names the scope of the deployment its case follows, through every snapshot round-trip;
a snapshot written before records named it restores them with their case's scope (``*`` before scopes)."""

from __future__ import annotations

import json
from dataclasses import replace

from engine.core.case import Case
from engine.core.handling import CaseHandler
from tests.unit import engine_harness
from tests.unit.engine_harness import Run, calendar, event

AGENCY_SCOPE = "000.00.01.H10"


def _late_case(roundtrip: bool) -> Run:
    procedure = replace(engine_harness.test_procedure(), scope=AGENCY_SCOPE)
    handler, _ = CaseHandler.receive(event("case.received", "2026-03-02 08:00"), procedure, 1, calendar())
    run = Run(handler, roundtrip)
    run.apply(event("step.completed", "2026-03-02 09:00", "receive"))
    run.apply(event("step.completed", "2026-03-06 14:00", "appraise"))  # 2 working days allowed: late
    return run


def test_records_name_the_scope_of_the_case_with_and_without_round_trips() -> None:
    for roundtrip in (False, True):
        [record] = _late_case(roundtrip).ncs()
        assert (record.type, record.procedure_version, record.procedure_scope) == ("step_late", 1, AGENCY_SCOPE)
        assert record.to_dict()["procedure_scope"] == AGENCY_SCOPE


def test_snapshots_written_before_records_named_the_scope_still_restore() -> None:
    state = json.loads(json.dumps(_late_case(False).case.to_dict()))
    for record in state["nonconformities"]:
        del record["procedure_scope"]
    [restored] = Case.from_dict(state).nonconformities.values()
    assert restored.procedure_scope == AGENCY_SCOPE  # the case's, never another scope's
    del state["procedure_scope"]  # a snapshot from before scopes: every agency, the case and its records
    [before_scopes] = Case.from_dict(state).nonconformities.values()
    assert before_scopes.procedure_scope == "*"
