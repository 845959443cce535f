"""Hand-computed cases (contract sections 3 and 4), each also run through a snapshot round-trip.

The test procedure (tests/fixtures/test-procedure.bpmn) has a 5-working-day limit (40 h):
receive PT4H -> appraise P2D -> (consult P1D || review PT4H) -> approve PT4H -> return (not counted).
Working hours 07:30-11:30 and 13:00-17:00, Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import pytest

from tests.unit.engine_harness import event, receive, vn

pytestmark = pytest.mark.parametrize("roundtrip", [False, True], ids=["live", "snapshot-roundtrip"])


def test_weekend_on_time_and_one_late_step(roundtrip: bool) -> None:
    # Fri 6 Mar 2026 14:00: before the cut-off, the clock starts at once.
    run = receive("2026-03-06 14:00", roundtrip)
    assert run.case.started_at == vn("2026-03-06 14:00")
    assert run.case.due_at == vn("2026-03-13 14:00")  # Fri 3h + Mon-Thu 32h + Fri 5h
    assert run.run("receive").clock.due_at == vn("2026-03-09 08:30")
    run.apply(event("step.completed", "2026-03-09 08:00", "receive"))
    assert run.run("receive").timeliness == "on_time"
    assert run.run("appraise").current_due() == vn("2026-03-11 08:00")
    run.apply(event("step.completed", "2026-03-11 10:00", "appraise"))
    assert run.run("appraise").timeliness == "late"
    assert run.run("consult").current_due() == vn("2026-03-12 10:00")
    assert run.run("review").current_due() == vn("2026-03-11 15:30")
    run.apply(event("step.completed", "2026-03-11 14:00", "review"))
    run.apply(event("step.completed", "2026-03-12 09:00", "consult"))
    assert run.run("approve").current_due() == vn("2026-03-12 14:30")
    run.apply(event("step.completed", "2026-03-12 11:00", "approve"))
    run.apply(event("case.result_ready", "2026-03-12 11:15"))
    run.apply(event("case.returned", "2026-03-13 08:00"))
    assert run.case.timeliness == "early"
    assert run.case.status == "returned"
    assert run.nc_summary() == [("step_late", "appraise", 2.0)]


def test_tet_cutoff_watcher_and_missing_apology(roundtrip: bool) -> None:
    # Fri 13 Feb 2026 15:30 is after the cut-off; Mon 16 - Fri 20 Feb is Tết.
    run = receive("2026-02-13 15:30", roundtrip)
    assert run.case.started_at == vn("2026-02-23 07:30")
    assert run.case.due_at == vn("2026-02-27 17:00")
    assert run.run("receive").clock.due_at == vn("2026-02-23 11:30")
    run.apply(event("step.completed", "2026-02-23 11:00", "receive"))
    assert run.run("appraise").current_due() == vn("2026-02-25 11:00")
    run.tick("2026-02-26 09:00")
    assert run.nc_summary() == [("step_overdue", "appraise", 6.0)]
    run.apply(event("step.completed", "2026-02-26 10:00", "appraise"))
    assert run.nc_summary() == [("step_late", "appraise", 7.0)]
    run.apply(event("step.completed", "2026-02-26 15:00", "review"))
    run.apply(event("step.completed", "2026-03-02 09:00", "consult"))
    run.apply(event("case.extended", "2026-03-02 10:00", due_at="2026-03-04 17:00"))
    run.apply(event("step.completed", "2026-03-02 14:00", "approve"))
    run.apply(event("case.result_ready", "2026-03-02 14:30"))
    assert run.case.timeliness == "late"
    assert run.case.delay_seconds == 5.5 * 3600
    assert run.nc_summary() == [
        ("case_late", None, 5.5),
        ("missing_apology", None, None),
        ("step_late", "appraise", 7.0),
        ("step_late", "consult", 7.0),
    ]
    assert run.case.due_at == vn("2026-02-27 17:00")  # never moved by the extension
    assert run.case.extended_due_at == vn("2026-03-04 17:00")


def test_supplement_restarts_the_clocks(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event("case.supplement_requested", "2026-03-02 10:00"))
    assert run.case.status == "awaiting_supplement"
    assert run.case.due_at is None
    run.apply(event("case.supplement_received", "2026-03-05 16:00"))  # after 15:00: Friday 07:30
    assert run.case.started_at == vn("2026-03-06 07:30")
    assert run.case.due_at == vn("2026-03-12 17:00")
    assert run.run("receive").clock.due_at == vn("2026-03-06 11:30")
    run.apply(event("step.completed", "2026-03-06 11:00", "receive"))
    assert run.run("receive").timeliness == "on_time"
    assert run.nc_summary() == []


def test_suspension_keeps_the_remaining_time(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    assert run.case.due_at == vn("2026-03-09 08:00")
    run.apply(event("step.completed", "2026-03-02 09:00", "receive"))
    run.apply(event("case.suspended", "2026-03-03 08:30"))
    assert run.case.status == "suspended"
    run.apply(event("case.resumed", "2026-03-05 13:00"))
    assert run.case.due_at == vn("2026-03-11 11:00")
    assert run.run("appraise").current_due() == vn("2026-03-06 13:30")
    run.apply(event("step.completed", "2026-03-06 14:00", "appraise"))
    assert run.nc_summary() == [("step_late", "appraise", 0.5)]


def test_skipped_steps_are_each_named(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event("step.completed", "2026-03-02 10:00", "approve"))
    assert run.nc_summary() == [
        ("step_skipped", "appraise", None),
        ("step_skipped", "consult", None),
        ("step_skipped", "receive", None),
        ("step_skipped", "review", None),
    ]
    assert run.run("approve").completed_at == vn("2026-03-02 10:00")
    assert [r.step for r in run.case.active_runs()] == ["return_result"]


def test_gateway_follows_case_data(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip, data={"fee_exempt": True, "applicant_age": 61})
    for step, when in [("receive", "2026-03-02 09:00"), ("appraise", "2026-03-02 10:00"),
                       ("consult", "2026-03-02 11:00"), ("review", "2026-03-02 11:00")]:
        run.apply(event("step.completed", when, step))
    assert [r.step for r in run.case.active_runs()] == ["approve_exempt"]
    assert run.nc_summary() == []


def test_unknown_step_event_after_close_and_repeated_extension(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip)
    run.apply(event("step.completed", "2026-03-02 09:00", "no_such_step"))
    run.apply(event("case.extended", "2026-03-03 09:00", due_at="2026-03-10 17:00"))
    run.apply(event("case.extended", "2026-03-04 09:00", due_at="2026-03-11 17:00"))
    run.apply(event("case.withdrawn", "2026-03-04 10:00"))
    run.apply(event("step.completed", "2026-03-04 11:00", "appraise"))
    types = run.nc_summary()
    assert ("unknown_step", "no_such_step", None) in types
    assert ("repeated_extension", None, None) in types
    assert ("event_after_close", "appraise", None) in types
    assert ("step_overdue", "receive", 5.0) in types  # detected by the extension on Tuesday 09:00
    assert len(types) == 4
    assert run.case.status == "withdrawn"


def test_appointment_beyond_limit_and_late_supplement_request(roundtrip: bool) -> None:
    run = receive("2026-03-02 08:00", roundtrip, due_at="2026-03-10 17:00")
    assert run.nc_summary() == [("appointment_beyond_limit", None, 15.5)]
    run.apply(event("step.completed", "2026-03-02 11:00", "receive"))
    run.apply(event("step.completed", "2026-03-03 11:00", "appraise"))
    run.apply(event("case.supplement_requested", "2026-03-05 10:00"))  # 26 working hours after the start
    # The request also finds consult (due Wed 11:00) and review (due Tue 16:30) overdue.
    assert run.nc_summary() == [
        ("appointment_beyond_limit", None, 15.5),
        ("late_supplement_request", None, 2.0),
        ("step_overdue", "consult", 7.0),
        ("step_overdue", "review", 11.0),
    ]
