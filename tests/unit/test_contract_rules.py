"""Contract sections 3 and 4, rule by rule, with every due computed by hand.

The test procedure (tests/fixtures/test-procedure.bpmn) has a 5-working-day limit (40 h):
receive PT4H -> appraise P2D -> (consult P1D || review PT4H) -> fee_check ->
approve PT4H (or approve_exempt PT4H when ``fee_exempt == true and applicant_age >= 60``)
-> return_result (not counted, no deadline).

Working time: 07:30-11:30 and 13:00-17:00 Asia/Ho_Chi_Minh, Monday-Friday, less Vietnam's
holidays from the ``holidays`` package (2026: 1 Jan; Tết Mon 16 - Fri 20 Feb; 27 Apr observed;
30 Apr; 1 May; Mon 31 Aug, Tue 1 Sep, Wed 2 Sep; 24 Nov), plus the swapped working Saturday
Sat 22 Aug 2026. No overrides file in the harness.

March 2026: Mon 2, Tue 3, Wed 4, Thu 5, Fri 6, Sat 7, Sun 8, Mon 9, Tue 10, Wed 11 ...

The tests about overdue records that turn out not late (a supplement restart, or an event
that occurred before the due but arrived after the watcher) check the retraction rule.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from engine.core.events import CaseEvent
from engine.core.handling import CaseHandler
from tests.unit import engine_harness
from tests.unit.engine_harness import Run, calendar, event, receive, vn

pytestmark = pytest.mark.parametrize("roundtrip", [False, True], ids=["live", "snapshot-roundtrip"])


# -- helpers -----------------------------------------------------------------------------------
def ts(text: str) -> datetime:
    """'2026-03-02 17:00:01' (with seconds) in Vietnam time."""
    return datetime.fromisoformat(text + "+07:00")


def event_s(type_: str, when: str | datetime, step: str | None = None, **extra: Any) -> CaseEvent:
    """Like ``event`` but ``when`` carries seconds (or is an aware datetime in any offset)."""
    occurred = when if isinstance(when, datetime) else ts(when)
    return replace(event(type_, "2026-01-01 00:00", step, **extra), occurred_at=occurred)


def receive_s(when: str | datetime, roundtrip: bool) -> Run:
    """Like ``receive`` but ``when`` carries seconds (or is an aware datetime in any offset)."""
    ev = event_s("case.received", when)
    handler, applied = CaseHandler.receive(ev, engine_harness.test_procedure(), 1, calendar())
    run = Run(handler, roundtrip)
    run.notes.extend(applied.notes)
    run._maybe_roundtrip()
    return run


def finish_steps_monday(run: Run) -> None:
    """Complete every counted step on Mon 2 Mar 2026, each well within its allowance.

    receive (due 13:30 for an 08:00 start) at 09:00; appraise (from 09:00, due Wed 4 Mar 09:00)
    at 09:30; review and consult (from 09:30) at 10:00; approve (from 10:00, due 14:30) at 10:30.
    """
    for step, when in [("receive", "2026-03-02 09:00"), ("appraise", "2026-03-02 09:30"),
                       ("review", "2026-03-02 10:00"), ("consult", "2026-03-02 10:00"),
                       ("approve", "2026-03-02 10:30")]:
        run.apply(event("step.completed", when, step))
    assert [r.step for r in run.case.active_runs()] == ["return_result"]
    assert all(r.timeliness in ("early", "on_time") for r in run.case.steps if r.completed_at)


def of_types(run: Run, *types: str) -> list[tuple[str, str | None, float | None]]:
    return [s for s in run.nc_summary() if s[0] in types]


# -- case clock start: cut-off, non-working days, outside working hours ------------------------
def test_receipt_exactly_at_the_cutoff_starts_at_once(roundtrip: bool) -> None:
    # Tue 3 Mar 15:00:00 is not *after* 15:00: the clock starts at 15:00.
    # Case: Tue 2 h (15:00-17:00) + Wed, Thu, Fri, Mon 9 Mar 32 h = 34 h; Tue 10 Mar 6 h:
    #   07:30-11:30 (4 h) + 13:00-15:00 (2 h) -> Tue 10 Mar 15:00.
    # receive PT4H: Tue 2 h + Wed 07:30 + 2 h -> Wed 4 Mar 09:30.
    run = receive_s("2026-03-03 15:00:00", roundtrip)
    assert run.case.started_at == ts("2026-03-03 15:00:00")
    assert run.case.due_at == vn("2026-03-10 15:00")
    assert run.run("receive").clock.due_at == vn("2026-03-04 09:30")
    assert run.nc_summary() == []


def test_receipt_one_second_after_the_cutoff_starts_next_working_day(roundtrip: bool) -> None:
    # Tue 3 Mar 15:00:01 is after 15:00: start Wed 4 Mar 07:30.
    # Case: Wed, Thu, Fri, Mon, Tue = 40 h -> Tue 10 Mar 17:00 (a due landing at 17:00).
    # receive PT4H: Wed 07:30 + 4 h -> Wed 11:30 (a due landing at 11:30).
    run = receive_s("2026-03-03 15:00:01", roundtrip)
    assert run.case.started_at == vn("2026-03-04 07:30")
    assert run.case.due_at == vn("2026-03-10 17:00")
    assert run.run("receive").clock.due_at == vn("2026-03-04 11:30")


def test_cutoff_is_judged_in_vietnam_time_whatever_the_offset(roundtrip: bool) -> None:
    # 08:00:00Z is 15:00:00 in Hanoi (starts at once); 08:00:01Z is after the cut-off.
    run = receive_s(datetime.fromisoformat("2026-03-03T08:00:00+00:00"), roundtrip)
    assert run.case.started_at == vn("2026-03-03 15:00")
    run = receive_s(datetime.fromisoformat("2026-03-03T08:00:01+00:00"), roundtrip)
    assert run.case.started_at == vn("2026-03-04 07:30")


def test_receipt_on_a_saturday(roundtrip: bool) -> None:
    # Sat 7 Mar 10:00 -> Mon 9 Mar 07:30; 40 h = Mon..Fri -> Fri 13 Mar 17:00.
    # receive: Mon 9 Mar 07:30 + 4 h -> 11:30.
    run = receive("2026-03-07 10:00", roundtrip)
    assert run.case.started_at == vn("2026-03-09 07:30")
    assert run.case.due_at == vn("2026-03-13 17:00")
    assert run.run("receive").clock.due_at == vn("2026-03-09 11:30")


def test_receipt_on_a_holiday(roundtrip: bool) -> None:
    # Wed 2 Sep 2026 (National Day) 09:00 -> Thu 3 Sep 07:30.
    # 40 h = Thu 3, Fri 4, Mon 7, Tue 8, Wed 9 Sep -> Wed 9 Sep 17:00.
    run = receive("2026-09-02 09:00", roundtrip)
    assert run.case.started_at == vn("2026-09-03 07:30")
    assert run.case.due_at == vn("2026-09-09 17:00")
    assert run.run("receive").clock.due_at == vn("2026-09-03 11:30")


def test_case_spanning_the_national_day_holidays(roundtrip: bool) -> None:
    # Fri 28 Aug 2026 08:00: Fri 3.5 + 4 = 7.5 h; Mon 31 Aug, Tue 1 Sep, Wed 2 Sep off;
    # Thu 3, Fri 4, Mon 7, Tue 8 Sep = 32 h -> 39.5 h; Wed 9 Sep 07:30 + 0.5 h -> 08:00.
    run = receive("2026-08-28 08:00", roundtrip)
    assert run.case.started_at == vn("2026-08-28 08:00")
    assert run.case.due_at == vn("2026-09-09 08:00")
    assert run.run("receive").clock.due_at == vn("2026-08-28 13:30")


def test_receipt_on_a_swapped_working_saturday(roundtrip: bool) -> None:
    # Sat 22 Aug 2026 is worked (day off moved to Mon 31 Aug): the clock starts at 09:00.
    # Sat 2.5 + 4 = 6.5 h; Mon 24 - Thu 27 Aug 32 h -> 38.5 h; Fri 28 Aug 07:30 + 1.5 h -> 09:00.
    # receive: Sat 09:00-11:30 2.5 h + 13:00 + 1.5 h -> Sat 22 Aug 14:30.
    run = receive("2026-08-22 09:00", roundtrip)
    assert run.case.started_at == vn("2026-08-22 09:00")
    assert run.case.due_at == vn("2026-08-28 09:00")
    assert run.run("receive").clock.due_at == vn("2026-08-22 14:30")


def test_receipt_before_opening(roundtrip: bool) -> None:
    # Mon 2 Mar 06:00 -> opening of that day, 07:30; 40 h = Mon..Fri -> Fri 6 Mar 17:00.
    run = receive("2026-03-02 06:00", roundtrip)
    assert run.case.started_at == vn("2026-03-02 07:30")
    assert run.case.due_at == vn("2026-03-06 17:00")
    assert run.run("receive").clock.due_at == vn("2026-03-02 11:30")


def test_receipt_during_the_lunch_break(roundtrip: bool) -> None:
    # Contract 3: "outside working time, starts at the beginning of the next working day":
    # Mon 2 Mar 12:15 -> Tue 3 Mar 07:30. Case: Tue..Fri 32 h + Mon 9 Mar 8 h -> Mon 9 Mar 17:00.
    # receive: the first steps start with the case clock: Tue 07:30 + 4 h -> 11:30.
    run = receive("2026-03-02 12:15", roundtrip)
    assert run.case.started_at == vn("2026-03-03 07:30")
    assert run.case.due_at == vn("2026-03-09 17:00")
    assert run.run("receive").clock.due_at == vn("2026-03-03 11:30")


# -- due at 17:00, late by one second -------------------------------------------------------------
def test_step_completed_exactly_at_a_17h_due_is_on_time(roundtrip: bool) -> None:
    # Mon 2 Mar 13:00: receive due 13:00 + 4 h = Mon 17:00.
    run = receive("2026-03-02 13:00", roundtrip)
    assert run.run("receive").clock.due_at == vn("2026-03-02 17:00")
    run.tick("2026-03-02 17:00")  # not after the due: nothing
    assert run.nc_summary() == []
    run.apply(event_s("step.completed", "2026-03-02 17:00:00", "receive"))
    assert run.run("receive").timeliness == "on_time"
    assert run.run("receive").delay_seconds == 0
    assert run.nc_summary() == []


def test_step_completed_one_second_after_a_17h_due_is_late_by_zero_hours(roundtrip: bool) -> None:
    # 17:00:01 is after the due instant (late), but [17:00:00, 17:00:01) holds no working
    # second: delay 0 working hours. One record: the overdue found by the event turns late.
    run = receive("2026-03-02 13:00", roundtrip)
    run.apply(event_s("step.completed", "2026-03-02 17:00:01", "receive"))
    assert run.run("receive").timeliness == "late"
    assert run.run("receive").delay_seconds == 0
    assert run.nc_summary() == [("step_late", "receive", 0.0)]
    record = run.ncs()[0]
    assert record.due_at == vn("2026-03-02 17:00")
    assert record.actual_at == ts("2026-03-02 17:00:01")


def test_case_resolved_exactly_at_a_17h_due_is_on_time(roundtrip: bool) -> None:
    # Mon 2 Mar 06:00 -> start 07:30, due Fri 6 Mar 17:00.
    run = receive("2026-03-02 06:00", roundtrip)
    finish_steps_monday(run)
    run.apply(event_s("case.result_ready", "2026-03-06 17:00:00"))
    assert run.case.timeliness == "on_time"
    assert run.case.delay_seconds == 0
    assert run.nc_summary() == []


def test_case_resolved_one_second_after_a_17h_due_is_late(roundtrip: bool) -> None:
    run = receive("2026-03-02 06:00", roundtrip)
    finish_steps_monday(run)
    run.handler.tick(ts("2026-03-06 17:00:00"))
    assert run.nc_summary() == []
    run.apply(event_s("case.result_ready", "2026-03-06 17:00:01"))
    assert run.case.timeliness == "late"
    assert run.case.delay_seconds == 0
    assert run.nc_summary() == [("case_late", None, 0.0), ("missing_apology", None, None)]


# -- early / on time / late by calendar day --------------------------------------------------------
def test_early_versus_on_time_by_calendar_day(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    # receive due Mon 13:30 (08:00-11:30 3.5 h + 13:00-13:30); done Mon 09:00: same day -> on time.
    run.apply(event("step.completed", "2026-03-02 09:00", "receive"))
    assert run.run("receive").timeliness == "on_time"
    # appraise from Mon 09:00, 16 h: Mon 6.5 + Tue 8 = 14.5; Wed 07:30 + 1.5 -> Wed 4 Mar 09:00.
    assert run.run("appraise").clock.due_at == vn("2026-03-04 09:00")
    run.apply(event("step.completed", "2026-03-03 16:59", "appraise"))  # the day before: early
    assert run.run("appraise").timeliness == "early"
    # consult P1D from Tue 16:59: 1 min + Wed 4 h + 13:00 + 3 h 59 -> Wed 16:59.
    # review PT4H from Tue 16:59: 1 min + Wed 07:30 + 3 h 59 -> Wed 11:29.
    assert run.run("consult").clock.due_at == vn("2026-03-04 16:59")
    assert run.run("review").clock.due_at == vn("2026-03-04 11:29")
    run.apply(event("step.completed", "2026-03-04 07:30", "review"))  # the due's day: on time
    assert run.run("review").timeliness == "on_time"
    run.apply(event("step.completed", "2026-03-05 07:30", "consult"))  # 1 working minute late
    assert run.run("consult").timeliness == "late"
    assert run.run("consult").delay_seconds == 60
    # approve from Thu 07:30 -> due Thu 11:30; done exactly then: on time.
    assert run.run("approve").clock.due_at == vn("2026-03-05 11:30")
    run.apply(event("step.completed", "2026-03-05 11:30", "approve"))
    assert run.run("approve").timeliness == "on_time"
    # Case due: Mon 7.5 h + Tue..Fri 32 h = 39.5; Mon 9 Mar 07:30 + 0.5 -> 08:00. Resolved Thu: early.
    run.apply(event("case.result_ready", "2026-03-05 11:30"))
    assert run.case.due_at == vn("2026-03-09 08:00")
    assert run.case.timeliness == "early"
    assert run.nc_summary() == [("step_late", "consult", 0.02)]


# -- apology (case.extended) ------------------------------------------------------------------------
# All: received Mon 2 Mar 08:00, case due Mon 9 Mar 08:00; result ready Mon 9 Mar 10:00, i.e.
# 2 working hours late (07:30-... 08:00 -> 10:00).
@pytest.mark.parametrize("extended_at", ["2026-03-05 10:00", "2026-03-06 08:00"],
                         ids=["a-day-and-more-before", "exactly-8h-before"])
def test_timely_apology_late_case_has_no_missing_apology(roundtrip: bool, extended_at: str) -> None:
    # Fri 6 Mar 08:00 -> Mon 9 Mar 08:00: Fri 08:00-11:30 3.5 + 13:00-17:00 4 + Mon 07:30-08:00 0.5
    # = 8 working hours exactly: still "at least one working day before the due".
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.apply(event("case.extended", extended_at, due_at="2026-03-11 17:00"))
    run.apply(event("case.result_ready", "2026-03-09 10:00"))
    assert run.case.timeliness == "late"
    assert run.nc_summary() == [("case_late", None, 2.0)]
    assert run.case.due_at == vn("2026-03-09 08:00")  # never moved by the extension
    assert run.case.extended_due_at == vn("2026-03-11 17:00")


def test_apology_one_minute_short_of_a_working_day(roundtrip: bool) -> None:
    # Fri 6 Mar 08:01 -> Mon 9 Mar 08:00 = 3 h 29 + 4 h + 0.5 h = 7 h 59 < 8 h: missing_apology.
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.apply(event("case.extended", "2026-03-06 08:01", due_at="2026-03-11 17:00"))
    run.apply(event("case.result_ready", "2026-03-09 10:00"))
    assert run.nc_summary() == [("case_late", None, 2.0), ("missing_apology", None, None)]
    apology = next(n for n in run.ncs() if n.type == "missing_apology")
    assert apology.due_at == vn("2026-03-09 08:00")
    assert apology.actual_at == vn("2026-03-06 08:01")
    assert apology.detected_at == vn("2026-03-09 10:00")


def test_apology_after_the_due(roundtrip: bool) -> None:
    # The extension at Mon 9 Mar 09:00 first finds the case overdue (1 h) with no apology;
    # the result at 10:00 turns the same record late (2 h).
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.apply(event("case.extended", "2026-03-09 09:00", due_at="2026-03-11 17:00"))
    assert run.nc_summary() == [("case_overdue", None, 1.0), ("missing_apology", None, None)]
    run.apply(event("case.result_ready", "2026-03-09 10:00"))
    assert run.nc_summary() == [("case_late", None, 2.0), ("missing_apology", None, None)]
    apology = next(n for n in run.ncs() if n.type == "missing_apology")
    assert apology.detected_at == vn("2026-03-09 09:00")
    assert apology.due_at == vn("2026-03-09 08:00")


# -- the watcher -------------------------------------------------------------------------------------
def test_watcher_finds_case_overdue_then_case_resolves_late(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.tick("2026-03-09 09:00")  # due Mon 08:00: 1 h overdue
    assert run.nc_summary() == [("case_overdue", None, 1.0), ("missing_apology", None, None)]
    # Resolved Mon 14:00: 08:00-11:30 3.5 h + 13:00-14:00 1 h = 4.5 h, measured at resolution.
    run.apply(event("case.result_ready", "2026-03-09 14:00"))
    assert run.nc_summary() == [("case_late", None, 4.5), ("missing_apology", None, None)]
    late = next(n for n in run.ncs() if n.type == "case_late")
    assert late.due_at == vn("2026-03-09 08:00")
    assert late.actual_at == vn("2026-03-09 14:00")
    assert late.detected_at == vn("2026-03-09 09:00")
    assert run.case.delay_seconds == 4.5 * 3600


# -- supplements ---------------------------------------------------------------------------------------
def _overdue_step_then_supplement(roundtrip: bool) -> Run:
    """receive due Mon 2 Mar 13:30; the watcher at 15:00 finds it 1.5 h overdue; a supplement is
    requested Tue 08:00 (8 working hours used: in time) and received Wed 4 Mar 09:00.

    Restart at Wed 09:00: receive 09:00-11:30 2.5 h + 13:00 + 1.5 h -> Wed 14:30;
    case Wed 6.5 h + Thu, Fri, Mon, Tue 32 h = 38.5; Wed 11 Mar 07:30 + 1.5 -> 09:00.
    """
    run = receive("2026-03-02 08:00", roundtrip)
    run.tick("2026-03-02 15:00")
    assert run.nc_summary() == [("step_overdue", "receive", 1.5)]
    run.apply(event("case.supplement_requested", "2026-03-03 08:00"))
    assert run.case.status == "awaiting_supplement"
    run.tick("2026-03-03 16:00")  # paused: nothing new, nothing changed
    assert run.nc_summary() == [("step_overdue", "receive", 1.5)]
    run.apply(event("case.supplement_received", "2026-03-04 09:00"))
    assert run.case.started_at == vn("2026-03-04 09:00")
    assert run.case.due_at == vn("2026-03-11 09:00")
    assert run.run("receive").clock.due_at == vn("2026-03-04 14:30")
    assert run.nc_summary() == [("step_overdue", "receive", 1.5)]  # the record is kept as it was
    return run


def test_overdue_step_restarted_by_supplement_is_judged_against_the_restarted_clock(roundtrip: bool) -> None:
    # Done Wed 14:00, before the restarted due (14:30): on time. (What becomes of the record of
    # the old clock is the test below.)
    run = _overdue_step_then_supplement(roundtrip)
    run.apply(event("step.completed", "2026-03-04 14:00", "receive"))
    assert run.run("receive").timeliness == "on_time"
    assert run.run("receive").due_at == vn("2026-03-04 14:30")
    assert not [s for s in run.nc_summary() if s[0] == "step_late"]


def test_overdue_step_restarted_by_supplement_then_done_leaves_no_open_overdue(roundtrip: bool) -> None:
    run = _overdue_step_then_supplement(roundtrip)
    run.apply(event("step.completed", "2026-03-04 14:00", "receive"))
    assert not [n for n in run.ncs() if n.type == "step_overdue" and n.step == "receive"]


def test_overdue_step_restarted_by_supplement_then_late_is_one_record(roundtrip: bool) -> None:
    run = _overdue_step_then_supplement(roundtrip)
    # Wed 15:00 is 0.5 working hours after the restarted due (14:30).
    run.apply(event("step.completed", "2026-03-04 15:00", "receive"))
    assert run.run("receive").timeliness == "late"
    assert run.run("receive").delay_seconds == 1800
    assert [s for s in run.nc_summary() if s[1] == "receive"] == [("step_late", "receive", 0.5)]


def test_overdue_case_restarted_by_supplement_then_late_is_one_record(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.tick("2026-03-09 10:00")  # due Mon 9 Mar 08:00: 2 h overdue
    # Requested Mon 9 Mar 10:00: 40 + 2 = 42 working hours used > 24: late by 18 h.
    run.apply(event("case.supplement_requested", "2026-03-09 10:00"))
    # Received Tue 10 Mar 08:00: Tue 7.5 + Wed..Fri 24 + Mon 16 Mar 8 = 39.5; Tue 17 Mar 08:00.
    run.apply(event("case.supplement_received", "2026-03-10 08:00"))
    assert run.case.due_at == vn("2026-03-17 08:00")
    run.apply(event("case.result_ready", "2026-03-17 09:00"))  # 1 h late against the restarted due
    assert of_types(run, "late_supplement_request") == [("late_supplement_request", None, 18.0)]
    assert of_types(run, "case_overdue", "case_late") == [("case_late", None, 1.0)]


def test_second_supplement_request(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event("case.supplement_requested", "2026-03-02 10:00"))  # 2 h used
    # Received Wed 4 Mar 08:00: case Wed 7.5 + Thu..Tue 32 = 39.5; Wed 11 Mar 08:00.
    # receive restarted: Wed 08:00 + 3.5 + 0.5 -> 13:30.
    run.apply(event("case.supplement_received", "2026-03-04 08:00"))
    assert run.case.due_at == vn("2026-03-11 08:00")
    assert run.run("receive").clock.due_at == vn("2026-03-04 13:30")
    run.apply(event("step.completed", "2026-03-04 09:00", "receive"))
    # appraise from Wed 09:00: Wed 6.5 + Thu 8 = 14.5; Fri 07:30 + 1.5 -> Fri 6 Mar 09:00.
    assert run.run("appraise").clock.due_at == vn("2026-03-06 09:00")
    # Second request Thu 5 Mar 10:00: 10 working hours since the restart (Wed 7.5 + Thu 2.5),
    # 26 h since the first receipt by the calendar, 12 h of case clock in all. The engine
    # counts from the restart: no nonconformity (the contract has no type for a second request).
    run.apply(event("case.supplement_requested", "2026-03-05 10:00"))
    assert run.nc_summary() == []
    # Received Mon 9 Mar 16:00, after the cut-off: restart Tue 10 Mar 07:30.
    # Case: Tue, Wed, Thu, Fri, Mon -> Mon 16 Mar 17:00. appraise P2D: Tue + Wed -> Wed 11 Mar 17:00.
    run.apply(event("case.supplement_received", "2026-03-09 16:00"))
    assert run.case.started_at == vn("2026-03-10 07:30")
    assert run.case.due_at == vn("2026-03-16 17:00")
    assert run.run("appraise").clock.due_at == vn("2026-03-11 17:00")
    assert run.case.epoch == 2
    assert run.nc_summary() == []


# -- suspension --------------------------------------------------------------------------------------
def test_suspension_spanning_tet(roundtrip: bool) -> None:
    # Mon 9 Feb 2026 08:00. receive done 09:00; appraise from 09:00, due Wed 11 Feb 09:00.
    run = receive("2026-02-09 08:00", roundtrip)
    # Without a pause: Mon 7.5 + Tue..Fri 32 = 39.5; Tết 16-20 Feb; Mon 23 Feb 08:00.
    assert run.case.due_at == vn("2026-02-23 08:00")
    run.apply(event("step.completed", "2026-02-09 09:00", "receive"))
    assert run.run("appraise").clock.due_at == vn("2026-02-11 09:00")
    # Suspended Tue 10 Feb 10:00: case used Mon 7.5 + Tue 2.5 = 10 h (30 h left);
    # appraise used Mon 6.5 + Tue 2.5 = 9 h (7 h left).
    run.apply(event("case.suspended", "2026-02-10 10:00"))
    assert run.case.status == "suspended"
    run.tick("2026-02-18 12:00")
    assert run.nc_summary() == []
    # Resumed Sat 21 Feb 20:00 (Tết weekend): the clocks run from Mon 23 Feb 07:30.
    # Case 30 h: Mon, Tue, Wed 24 h; Thu 26 Feb 07:30 + 6 h -> 15:00.
    # appraise 7 h: Mon 23 Feb 07:30 + 4 h + 13:00 + 3 h -> 16:00.
    run.apply(event("case.resumed", "2026-02-21 20:00"))
    assert run.case.status == "open"
    assert run.case.due_at == vn("2026-02-26 15:00")
    assert run.run("appraise").clock.due_at == vn("2026-02-23 16:00")
    run.apply(event("step.completed", "2026-02-23 16:30", "appraise"))
    assert run.nc_summary() == [("step_late", "appraise", 0.5)]


# -- resolution and closing ----------------------------------------------------------------------
def test_returned_without_result_ready_resolves_at_return_early(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.apply(event("case.returned", "2026-03-03 10:00"))
    assert run.case.resolved_at == vn("2026-03-03 10:00")
    assert run.case.timeliness == "early"  # due Mon 9 Mar 08:00
    assert run.case.status == "returned"
    assert run.nc_summary() == []


def test_returned_without_result_ready_resolves_at_return_late(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.apply(event("case.returned", "2026-03-09 09:00"))  # 1 h after the due Mon 08:00
    assert run.case.resolved_at == vn("2026-03-09 09:00")
    assert run.case.closed_at == vn("2026-03-09 09:00")
    assert run.case.timeliness == "late"
    assert run.case.delay_seconds == 3600
    assert run.nc_summary() == [("case_late", None, 1.0), ("missing_apology", None, None)]


@pytest.mark.parametrize("closing", ["case.rejected", "case.stopped"])
def test_events_after_close_name_their_step(roundtrip: bool, closing: str) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event(closing, "2026-03-02 10:00"))
    assert run.case.status == closing.removeprefix("case.")
    run.apply(event("step.completed", "2026-03-02 11:00", "receive"))
    run.apply(event("step.started", "2026-03-02 11:10", "appraise"))
    run.apply(event("step.completed", "2026-03-02 11:20", "no_such_step"))  # not unknown_step
    run.apply(event("case.result_ready", "2026-03-02 13:00"))
    run.tick("2026-03-20 10:00")  # closed: the watcher raises nothing
    assert run.nc_summary() == [
        ("event_after_close", None, None),
        ("event_after_close", "appraise", None),
        ("event_after_close", "no_such_step", None),
        ("event_after_close", "receive", None),
    ]
    assert run.case.resolved_at is None
    assert run.case.timeliness is None


# -- step events -------------------------------------------------------------------------------------
def test_step_started_for_inactive_and_unknown_steps(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event("step.started", "2026-03-02 08:30", "appraise"))  # known, not active: a note
    run.apply(event("step.started", "2026-03-02 08:45", "receive"))  # active: recorded, clock unchanged
    run.apply(event("step.started", "2026-03-02 09:00", "no_such_step"))
    assert [r.step for r in run.case.active_runs()] == ["receive"]
    assert run.run("receive").started_at == vn("2026-03-02 08:45")
    assert run.run("receive").clock.due_at == vn("2026-03-02 13:30")
    assert run.nc_summary() == [("unknown_step", "no_such_step", None)]


def test_completion_of_an_already_completed_step(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event("step.completed", "2026-03-02 09:00", "receive"))
    run.apply(event("step.completed", "2026-03-02 10:00", "receive"))
    assert [r.step for r in run.case.steps] == ["receive", "appraise"]
    assert run.run("receive").completed_at == vn("2026-03-02 09:00")
    assert run.run("appraise").clock.due_at == vn("2026-03-04 09:00")
    assert [r.step for r in run.case.active_runs()] == ["appraise"]
    assert run.nc_summary() == []


def test_gateway_data_arriving_on_later_completions(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)  # no data at receipt
    run.apply(event("step.completed", "2026-03-02 09:00", "receive"))
    run.apply(event("step.completed", "2026-03-02 10:00", "appraise"))
    run.apply(event("step.completed", "2026-03-02 11:00", "consult", data={"fee_exempt": True}))
    run.apply(event("step.completed", "2026-03-02 11:00", "review", data={"applicant_age": 61}))
    assert [r.step for r in run.case.active_runs()] == ["approve_exempt"]
    # approve_exempt from Mon 11:00: 0.5 h + 13:00 + 3.5 h -> 16:30.
    assert run.run("approve_exempt").clock.due_at == vn("2026-03-02 16:30")
    assert run.nc_summary() == []


def test_gateway_later_data_overrides_receipt_data(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip, data={"fee_exempt": True, "applicant_age": 61})
    run.apply(event("step.completed", "2026-03-02 09:00", "receive"))
    run.apply(event("step.completed", "2026-03-02 10:00", "appraise"))
    run.apply(event("step.completed", "2026-03-02 11:00", "consult"))
    run.apply(event("step.completed", "2026-03-02 11:00", "review", data={"fee_exempt": False}))
    assert [r.step for r in run.case.active_runs()] == ["approve"]


# -- time going backwards --------------------------------------------------------------------------
def test_event_earlier_than_the_previous_event(roundtrip: bool) -> None:
    # appraise becomes active at Mon 10:00 and "completes" at Mon 09:30, before it was active.
    # The contract is silent; the engine applies it in file order without a note: the step's
    # clock stops with 0 h used and it is judged early against its due (Mon 10:00 + 16 h:
    # 1.5 + 4 + Tue 8 = 13.5; Wed 07:30 + 2.5 -> Wed 4 Mar 10:00).
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event("step.completed", "2026-03-02 10:00", "receive"))
    run.apply(event("step.completed", "2026-03-02 09:30", "appraise"))
    assert run.run("appraise").due_at == vn("2026-03-04 10:00")
    assert run.run("appraise").timeliness == "early"
    assert run.run("review").activated_at == vn("2026-03-02 09:30")
    # review from 09:30: 2 h + 13:00 + 2 h -> 15:00.
    assert run.run("review").clock.due_at == vn("2026-03-02 15:00")
    assert run.nc_summary() == []


def test_completion_before_the_due_reported_after_the_watcher(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.tick("2026-03-02 14:00")  # receive due 13:30: overdue 0.5 h as far as anyone knows
    assert run.nc_summary() == [("step_overdue", "receive", 0.5)]
    run.apply(event("step.completed", "2026-03-02 13:00", "receive"))  # occurred before the due
    assert run.run("receive").timeliness == "on_time"
    assert run.nc_summary() == []


def test_result_before_the_due_reported_after_the_watcher(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    finish_steps_monday(run)
    run.tick("2026-03-09 10:00")  # due Mon 9 Mar 08:00: overdue 2 h
    run.apply(event("case.result_ready", "2026-03-06 16:00"))  # occurred on the Friday before
    assert run.case.timeliness == "early"
    assert run.nc_summary() == []
