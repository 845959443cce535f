"""A corrective-action step as a use case: the status, the details and one audit entry, or nothing."""

from __future__ import annotations

from datetime import date

import pytest

from engine.application.actor import Actor
from engine.application.corrective import (
    ActionDueInPast,
    ChangedMeanwhile,
    Command,
    NonconformityNotFound,
    StaleVersion,
    TransitionRefused,
    check_action_due,
    transition,
)
from engine.core.clock import ManualClock
from tests.unit.engine_harness import calendar, vn
from tests.unit.fake_store import FakeCorrectiveRecords, FakeRecord

KEY = "C-1:case_timeliness"
WORKER = Actor("binh", "nc_worker")


def records(status: str = "open") -> FakeCorrectiveRecords:
    return FakeCorrectiveRecords([FakeRecord(KEY, status, "000.00.01.H10")])


def test_recording_the_correction_moves_the_status_and_writes_one_audit_entry() -> None:
    store = records()
    clock = ManualClock(vn("2026-03-05 10:00"))
    done = transition(store, KEY, Command.correction, {"correction": "called the citizen", "corrected_at":
                      clock.now()}, actor=WORKER, clock=clock, expected=0)
    assert store.records[KEY].status == "correction_recorded"
    assert done.action.correction == "called the citizen" and done.action.updated_by == "binh"
    [entry] = store.audit_log
    assert (entry["action"], entry["key"], entry["actor"], entry["role"]) == ("nonconformity.correction", KEY,
                                                                              "binh", "nc_worker")
    assert entry["before"] == {"status": "open"}
    assert entry["after"]["status"] == "correction_recorded"
    assert entry["after"]["correction"] == "called the citizen"
    assert store.published == [KEY] and store.committed == 1
    assert done.version == 1


def test_a_refused_step_writes_nothing() -> None:
    store = records()
    with pytest.raises(TransitionRefused, match="record the correction first"):
        transition(store, KEY, Command.close, {}, actor=WORKER, clock=ManualClock(vn("2026-03-05 10:00")))
    assert (store.records[KEY].status, store.audit_log, store.actions, store.committed) == ("open", [], {}, 0)


def test_a_stale_version_is_refused_with_the_current_one() -> None:
    store = records()
    clock = ManualClock(vn("2026-03-05 10:00"))
    transition(store, KEY, Command.correction, {"correction": "x"}, actor=WORKER, clock=clock)
    with pytest.raises(StaleVersion) as refused:
        transition(store, KEY, Command.cause, {"cause": "y"}, actor=WORKER, clock=clock, expected=0)
    assert refused.value.version == 1
    assert len(store.audit_log) == 1


def test_a_status_changed_between_read_and_write_is_refused() -> None:
    class Racing(FakeCorrectiveRecords):
        def set_status(self, key: str, before: str, after: str) -> bool:
            self.records[key].status = "correction_recorded"  # another command won meanwhile
            return super().set_status(key, before, after)

    store = Racing([FakeRecord(KEY, "open", "000.00.01.H10")])
    with pytest.raises(ChangedMeanwhile):
        transition(store, KEY, Command.correction, {"correction": "x"}, actor=WORKER,
                   clock=ManualClock(vn("2026-03-05 10:00")))
    assert store.audit_log == []


def test_a_record_outside_the_actors_agencies_is_not_found() -> None:
    with pytest.raises(NonconformityNotFound):
        transition(records(), KEY, Command.correction, {}, actor=WORKER, clock=ManualClock(vn("2026-03-05 10:00")),
                   visible=lambda agency: agency.startswith("000.00.02"))
    with pytest.raises(NonconformityNotFound):
        transition(records(), "nope", Command.correction, {}, actor=WORKER, clock=ManualClock(vn("2026-03-05 10:00")))


def test_an_action_is_not_planned_in_the_past() -> None:
    clock = ManualClock(vn("2026-03-05 10:00"))
    check_action_due(date(2026, 3, 5), calendar(), clock)
    with pytest.raises(ActionDueInPast, match="2026-03-04 is in the past"):
        check_action_due(date(2026, 3, 4), calendar(), clock)
