"""Migrating a running case to a new procedure version (issue 13, item 1): hand-computed, pure engine.

The test procedure (tests/fixtures/test-procedure.bpmn): 5 working days (40 h); receive PT4H -> appraise P2D ->
(consult P1D || review PT4H) -> approve PT4H -> return (not counted). Working hours 07:30-11:30, 13:00-17:00.
Every scenario also runs through a snapshot round-trip: after each event and after the migration.
Sat 14 / Sun 15 March 2026 are the weekend; no holiday falls in these weeks.
"""

from __future__ import annotations

from functools import cache

import pytest

from engine.core.migration import (
    BACKWARDS,
    STEP_REMOVED,
    CaseMigration,
    StepMapInvalid,
    check_step_map,
    parse_step_map,
    plan_case,
)
from engine.core.procedure import LoadedProcedure
from engine.procedures.loader import load_procedure
from tests.unit.engine_harness import FIXTURES, Run, event, receive, vn

SOURCE = (FIXTURES / "test-procedure.bpmn").read_text(encoding="utf-8")
APPRAISE = '<bpmn:userTask id="appraise" name="Appraise">'


def variant(name: str, *replacements: tuple[str, str]) -> LoadedProcedure:
    text = SOURCE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return load_procedure(text.encode(), f"{name}.bpmn")


@cache
def approve_longer() -> LoadedProcedure:
    """Version 2: only approve changes (PT4H -> PT8H); appraise keeps P2D."""
    marker = '<bpmn:userTask id="approve" name="Approve">\n      <bpmn:extensionElements><camunda:properties>\n' \
             '        <camunda:property name="deadline" value="PT4H"/>'
    return variant("approve-longer", (marker, marker.replace("PT4H", "PT8H")))


@cache
def appraise_longer() -> LoadedProcedure:
    """Version 2: appraise P2D -> P3D."""
    return variant("appraise-longer", ('value="P2D"', 'value="P3D"'))


@cache
def appraise_renamed() -> LoadedProcedure:
    """Version 2: appraise is now 'assess' (same place, same allowance)."""
    return variant("renamed", ('"appraise"', '"assess"'))  # the task's id and both flows' refs


@cache
def appraise_removed() -> LoadedProcedure:
    """Version 2: no appraise; receive leads straight to the parallel split."""
    start = SOURCE.index(APPRAISE)
    end = SOURCE.index("</bpmn:userTask>", start) + len("</bpmn:userTask>")
    return variant("removed", (SOURCE[start:end], ""),
                   ('<bpmn:sequenceFlow id="f2" sourceRef="receive" targetRef="appraise"/>', ""),
                   ('<bpmn:sequenceFlow id="f3" sourceRef="appraise" targetRef="split"/>',
                    '<bpmn:sequenceFlow id="f3" sourceRef="receive" targetRef="split"/>'),
                   ("<bpmn:outgoing>f2</bpmn:outgoing>", "<bpmn:outgoing>f3</bpmn:outgoing>"))


@cache
def appraise_first() -> LoadedProcedure:
    """Version 2: appraise comes before receive."""
    return variant("swapped",
                   ('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="receive"/>',
                    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="appraise"/>'),
                   ('<bpmn:sequenceFlow id="f2" sourceRef="receive" targetRef="appraise"/>',
                    '<bpmn:sequenceFlow id="f2" sourceRef="appraise" targetRef="receive"/>'),
                   ('<bpmn:sequenceFlow id="f3" sourceRef="appraise" targetRef="split"/>',
                    '<bpmn:sequenceFlow id="f3" sourceRef="receive" targetRef="split"/>'))


def at_appraise(roundtrip: bool) -> Run:
    """Received Fri 6 Mar 14:00 (case due Fri 13 Mar 14:00); receive completed Mon 9 Mar 08:00, so appraise
    runs from Mon 08:00 with P2D = 16 h: due Wed 11 Mar 08:00."""
    run = receive("2026-03-06 14:00", roundtrip)
    run.apply(event("step.completed", "2026-03-09 08:00", "receive"))
    assert run.run("appraise").current_due() == vn("2026-03-11 08:00")
    return run


def migrate(run: Run, new: LoadedProcedure, mapping: dict[str, str] | None = None,
            when: str = "2026-03-10 08:00") -> CaseMigration:
    plan, moved = plan_case(run.handler, new, 2, mapping or {}, vn(when))
    if moved is not None:
        run.handler = moved
        run._maybe_roundtrip()
    return plan


pytestmark = pytest.mark.parametrize("roundtrip", [False, True], ids=["live", "snapshot-roundtrip"])


def test_unchanged_allowance_keeps_the_due_exactly(roundtrip: bool) -> None:
    run = at_appraise(roundtrip)
    plan = migrate(run, approve_longer())
    assert plan.moved and plan.from_version == 1 and plan.to_version == 2
    [move] = plan.steps
    assert (move.step, move.new_step, move.due_before, move.due_after) == (
        "appraise", "appraise", vn("2026-03-11 08:00"), vn("2026-03-11 08:00"))
    assert move.consumed_seconds == 8 * 3600  # Mon 08:00 -> Tue 08:00: 7.5 h + 0.5 h
    assert run.case.procedure_version == 2
    assert run.run("appraise").clock.due_at == vn("2026-03-11 08:00")
    assert run.case.due_at == vn("2026-03-13 14:00")  # the case clock is untouched
    run.apply(event("step.completed", "2026-03-11 10:00", "appraise"))  # 2 h late, as on version 1
    assert run.nc_summary() == [("step_late", "appraise", 2.0)]
    # approve now has version 2's PT8H: consult and review done Thu 12 Mar 09:00 -> due Fri 13 Mar 09:00
    run.apply(event("step.completed", "2026-03-11 14:00", "review"))
    run.apply(event("step.completed", "2026-03-12 09:00", "consult"))
    assert run.run("approve").current_due() == vn("2026-03-13 09:00")


def test_changed_allowance_gets_the_due_from_the_steps_own_start(roundtrip: bool) -> None:
    run = at_appraise(roundtrip)
    plan = migrate(run, appraise_longer())
    [move] = plan.steps
    # the same 8 h used, against P3D = 24 h, from its start Mon 08:00: Thu 12 Mar 08:00
    assert (move.allowance_before, move.allowance_after) == (16 * 3600, 24 * 3600)
    assert (move.due_before, move.due_after) == (vn("2026-03-11 08:00"), vn("2026-03-12 08:00"))
    assert run.run("appraise").current_due() == vn("2026-03-12 08:00")
    run.apply(event("step.completed", "2026-03-11 10:00", "appraise"))  # late on version 1, early on version 2
    assert run.run("appraise").timeliness == "early"
    assert run.nc_summary() == []


def test_suspended_case_stays_suspended_with_its_remaining_time(roundtrip: bool) -> None:
    run = at_appraise(roundtrip)
    run.apply(event("case.suspended", "2026-03-10 08:00"))  # appraise used 8 h; the case 3 + 8 + 0.5 = 11.5 h
    plan = migrate(run, appraise_longer(), when="2026-03-10 09:00")
    [move] = plan.steps
    assert move.paused and move.due_after is None and move.consumed_seconds == 8 * 3600
    assert run.case.status == "suspended"
    clock = run.run("appraise").clock
    assert (clock.running, clock.consumed, clock.allowance) == (False, 8 * 3600, 24 * 3600)
    assert run.case.clock.consumed == 11.5 * 3600 and not run.case.clock.running
    run.apply(event("case.resumed", "2026-03-12 08:00"))
    # appraise: 16 h left from Thu 08:00 -> Thu 7.5 h, Fri 8 h, Mon 16 Mar 07:30 + 0.5 h = 08:00
    assert run.run("appraise").current_due() == vn("2026-03-16 08:00")
    # the case: 28.5 h left -> Thu 7.5, Fri 8, Mon 8, Tue 17 Mar 07:30 + 5 h = 14:00
    assert run.case.due_at == vn("2026-03-17 14:00")


def test_supplement_restart_is_kept(roundtrip: bool) -> None:
    run = at_appraise(roundtrip)
    run.apply(event("case.supplement_requested", "2026-03-09 10:00"))
    run.apply(event("case.supplement_received", "2026-03-10 09:00"))  # the clocks recount from Tue 09:00
    assert run.case.due_at == vn("2026-03-17 09:00")
    plan = migrate(run, appraise_longer(), when="2026-03-10 10:00")
    assert plan.moved
    assert run.case.started_at == vn("2026-03-10 09:00") and run.case.due_at == vn("2026-03-17 09:00")
    # appraise restarted Tue 09:00 with nothing used: P3D -> Fri 13 Mar 09:00
    assert run.run("appraise").current_due() == vn("2026-03-13 09:00")


def test_case_in_a_removed_step_stays_untouched(roundtrip: bool) -> None:
    run = at_appraise(roundtrip)
    before = run.case.to_dict()
    plan = migrate(run, appraise_removed())
    assert not plan.moved and plan.reason_code == STEP_REMOVED
    assert "step appraise" in (plan.reason or "") and "does not name it" in (plan.reason or "")
    assert run.case.to_dict() == before and run.case.procedure_version == 1
    run.apply(event("step.completed", "2026-03-10 10:00", "appraise"))  # it goes on as on version 1
    assert sorted(run.handler.workflow.ready_steps()) == ["consult", "review"]


def test_renamed_step_moves_with_the_map(roundtrip: bool) -> None:
    run = at_appraise(roundtrip)
    assert migrate(run, appraise_renamed()).reason_code == STEP_REMOVED  # without a map: reported
    plan = migrate(run, appraise_renamed(), {"appraise": "assess"})
    assert plan.moved and plan.mapped == (("appraise", "assess"),)
    [move] = plan.steps
    assert (move.step, move.new_step, move.due_after) == ("appraise", "assess", vn("2026-03-11 08:00"))
    assert run.run("assess").current_due() == vn("2026-03-11 08:00")
    run.apply(event("step.completed", "2026-03-10 15:00", "assess"))
    assert run.run("assess").timeliness == "early"
    assert sorted(run.handler.workflow.ready_steps()) == ["consult", "review"]
    assert [r.step for r in run.case.steps] == ["receive", "assess", "consult", "review"]


def test_a_move_backwards_is_refused_and_listed(roundtrip: bool) -> None:
    run = at_appraise(roundtrip)
    before = run.case.to_dict()
    plan = migrate(run, appraise_first())
    assert plan.reason_code == BACKWARDS
    assert plan.reason == ("moving case C-1 from step appraise to appraise would move it backwards: step receive, "
                           "already completed, comes after appraise in version 2")
    assert run.case.to_dict() == before


def test_a_step_map_naming_a_missing_step_is_refused(roundtrip: bool) -> None:
    old, new = at_appraise(roundtrip).handler.definition, appraise_renamed().definition
    with pytest.raises(StepMapInvalid, match=r"'apraise' \(left of '='\) is not a step of version 1"):
        check_step_map({"apraise": "assess"}, [old], new, "version 1", "version 2")
    with pytest.raises(StepMapInvalid, match=r"'asess' \(mapped from 'appraise'\) is not a step of version 2"):
        check_step_map({"appraise": "asess"}, [old], new, "version 1", "version 2")
    assert parse_step_map('[steps]\nappraise = "assess"\n', "m.toml") == {"appraise": "assess"}
    with pytest.raises(StepMapInvalid, match=r"m\.toml: not TOML"):
        parse_step_map("[steps\n", "m.toml")
    with pytest.raises(StepMapInvalid, match=r"m\.toml: \[steps\] appraise: the new step"):
        parse_step_map("[steps]\nappraise = 3\n", "m.toml")


@cache
def without_consultation() -> LoadedProcedure:
    """Version 2: no consult and no parallel gateways; appraise -> review -> fee_check."""
    start = SOURCE.index('<bpmn:parallelGateway id="split">')
    consult = SOURCE.index('<bpmn:userTask id="consult"')
    consult_end = SOURCE.index("</bpmn:userTask>", consult) + len("</bpmn:userTask>")
    join = SOURCE.index('<bpmn:parallelGateway id="join">')
    join_end = SOURCE.index("</bpmn:parallelGateway>", join) + len("</bpmn:parallelGateway>")
    return variant(
        "serial", (SOURCE[join:join_end], ""), (SOURCE[start:consult_end], ""),
        ('<bpmn:sequenceFlow id="f3" sourceRef="appraise" targetRef="split"/>',
         '<bpmn:sequenceFlow id="f3" sourceRef="appraise" targetRef="review"/>'),
        ('<bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="consult"/>', ""),
        ('<bpmn:sequenceFlow id="f5" sourceRef="split" targetRef="review"/>', ""),
        ('<bpmn:sequenceFlow id="f6" sourceRef="consult" targetRef="join"/>', ""),
        ('<bpmn:sequenceFlow id="f7" sourceRef="review" targetRef="join"/>',
         '<bpmn:sequenceFlow id="f7" sourceRef="review" targetRef="fee_check"/>'),
        ('<bpmn:sequenceFlow id="f8" sourceRef="join" targetRef="fee_check"/>', ""),
        ("<bpmn:incoming>f5</bpmn:incoming>", "<bpmn:incoming>f3</bpmn:incoming>"),
        ("<bpmn:incoming>f8</bpmn:incoming>", "<bpmn:incoming>f7</bpmn:incoming>"))


def in_parallel(roundtrip: bool) -> Run:
    """appraise completed Tue 10 Mar 10:00: consult (P1D, due Wed 11 Mar 10:00) and review (PT4H, due Tue 15:30)."""
    run = at_appraise(roundtrip)
    run.apply(event("step.completed", "2026-03-10 10:00", "appraise"))
    assert run.run("review").current_due() == vn("2026-03-10 15:30")
    return run


def test_a_case_in_a_parallel_branch_that_no_longer_exists_stays(roundtrip: bool) -> None:
    run = in_parallel(roundtrip)
    before = run.case.to_dict()
    plan = migrate(run, without_consultation(), when="2026-03-10 11:00")
    assert plan.reason_code == STEP_REMOVED and "step consult" in (plan.reason or "")
    assert run.case.to_dict() == before


def test_the_other_branch_done_the_case_moves_onto_the_serial_path(roundtrip: bool) -> None:
    run = in_parallel(roundtrip)
    run.apply(event("step.completed", "2026-03-10 11:00", "consult"))
    plan = migrate(run, without_consultation(), when="2026-03-10 13:00")
    [move] = plan.steps
    assert (move.step, move.new_step, move.due_after) == ("review", "review", vn("2026-03-10 15:30"))
    assert run.handler.workflow.ready_steps() == ["review"]
    run.apply(event("step.completed", "2026-03-10 14:00", "review"))
    # review done: the fee check (no exemption) gives approve PT4H from Tue 14:00 -> Wed 11 Mar 07:30 + 1 h
    assert run.handler.workflow.ready_steps() == ["approve"]
    assert run.run("approve").current_due() == vn("2026-03-11 08:30")


def test_a_case_between_split_and_join_moves_and_joins_as_before(roundtrip: bool) -> None:
    run = in_parallel(roundtrip)
    plan = migrate(run, appraise_longer(), when="2026-03-10 13:00")
    assert [(m.new_step, m.due_after) for m in plan.steps] == [("consult", vn("2026-03-11 10:00")),
                                                               ("review", vn("2026-03-10 15:30"))]
    run.apply(event("step.completed", "2026-03-10 14:00", "review"))
    assert run.handler.workflow.ready_steps() == ["consult"]  # the join still waits for consult
    run.apply(event("step.completed", "2026-03-10 15:00", "consult"))
    assert run.handler.workflow.ready_steps() == ["approve"]
