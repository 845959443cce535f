"""A version deployed before the duration bound (issue 10, item 1) still loads; the calendar refuses it.

Its cases keep their procedure (reports, control slips), and counting its over-long allowance is
a ``WorkingTimeOutOfRange`` at once: no seconds of walking the calendar, no ``OverflowError``.
"""

from __future__ import annotations

import functools

import pytest

from engine.bootstrap import App
from engine.core.calendar import WorkingTimeOutOfRange
from engine.core.durations import WORKING_DAY_SECONDS, parse_working_duration
from engine.core.handling import CaseHandler
from engine.procedures import definition
from engine.store.catalog import ProcedureCatalog
from tests.unit.engine_harness import FIXTURES, event

DEADLINE = b'<camunda:property name="deadline" value="P2D"/>'  # the second step's, "appraise"
OLD = (FIXTURES / "test-procedure.bpmn").read_bytes().replace(DEADLINE, DEADLINE.replace(b"P2D", b"P2000000D"))


def deploy_as_before_the_bound(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as before:
        before.setattr(definition, "parse_working_duration",
                       functools.partial(parse_working_duration, maximum=None))
        app.catalog.deploy(OLD, "old.bpmn", app.clock.now())


def test_an_old_version_beyond_the_bound_loads_and_its_allowance_is_refused_at_once(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy_as_before_the_bound(app, monkeypatch)
    loaded = ProcedureCatalog(app.engine).get("9.000001", 1)  # a fresh process reads it back
    assert loaded.definition.steps["appraise"].allowance_seconds == 2_000_000 * WORKING_DAY_SECONDS
    handler, _ = CaseHandler.receive(event("case.received", "2026-03-02 08:00"), loaded, 1, app.calendar)
    with pytest.raises(WorkingTimeOutOfRange, match="cannot count more than 10,000 working hours"):
        handler.apply(event("step.completed", "2026-03-02 10:00", "receive"))


@pytest.mark.parametrize("batched", [False, True], ids=["one by one", "batch"])
def test_the_service_refuses_such_an_event_and_applies_every_other(
    app: App, monkeypatch: pytest.MonkeyPatch, batched: bool
) -> None:
    """Before: WorkingTimeOutOfRange escaped the service (HTTP 500, ``eiso ingest`` stopped)."""
    deploy_as_before_the_bound(app, monkeypatch)
    events = [event("case.received", "2026-03-02 08:00", case_id="C-1"),
              event("step.completed", "2026-03-02 10:00", "receive", case_id="C-1"),
              event("case.received", "2026-03-02 08:30", case_id="C-2")]
    outcomes = app.service.ingest_batch(events) if batched else [app.service.ingest(e) for e in events]
    assert [o.status for o in outcomes] == ["applied", "refused", "applied"]
    assert "10,000 working hours" in (outcomes[1].reason or "")
    # the refused completion left C-1 as it was: "receive" still active, nothing half-applied
    app.service._cache.clear()  # read back from the database
    steps = app.service.ingest(event("step.started", "2026-03-02 10:30", "receive", case_id="C-1"))
    assert steps.status == "applied", steps.reason
