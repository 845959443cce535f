"""Issue 10, items 1 and 9: validation is bounded and linear; working time is bounded everywhere.

Durations longer than ``MAX_WORKING_SECONDS`` are a problem line, never an exception; the
calendar refuses to count past it (a version deployed before the bound); a file or process past
its size bounds is refused with one line; a gateway's check looks at each of its flows once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from engine.core.calendar import MAX_WORKING_SECONDS, WorkingCalendar, WorkingTimeOutOfRange
from engine.core.durations import WORKING_DAY_SECONDS
from engine.procedures.loader import ProcedureInvalid, load_procedure, validate_source
from engine.procedures.model import BPMN_NS
from engine.procedures.problems import Report
from engine.procedures.structure import MAX_SEQUENCE_FLOWS, check_structure
from engine.procedures.xml import MAX_NODES
from tests.unit.test_procedure_validation import chain, document, errors_of, flow, process, simple, step

HUGE = "P99999999999999999999D"
BOUND = "longer than P1250D (10,000 working hours), the longest time limit or step allowance"


def test_the_bound_is_five_years_of_working_time() -> None:
    assert MAX_WORKING_SECONDS == 10_000 * 3600 == 1250 * WORKING_DAY_SECONDS


# --------------------------------------------------------------------------- durations in a procedure


@pytest.mark.parametrize("value", [HUGE, "P2000000D", "P1251D", "P1250DT1S", "P251W", "PT10001H"])
def test_step_deadline_beyond_the_bound_is_a_problem_line(value: str) -> None:
    source = document(process(step("a", deadline=value) + step("b") + chain("a", "b")))
    assert errors_of(source) == [("a", f"deadline: invalid working-time duration {value!r}: {BOUND}")]
    with pytest.raises(ProcedureInvalid):
        load_procedure(source, "t.bpmn")


@pytest.mark.parametrize("value", [HUGE, "P2000000D"])
def test_statutory_limit_beyond_the_bound_is_a_problem_line(value: str) -> None:
    assert errors_of(simple(statutoryLimit=value)) == [
        ("proc", f"statutoryLimit: invalid working-time duration {value!r}: {BOUND}")]


def test_the_bound_itself_is_allowed() -> None:
    source = document(process(step("a", deadline="P1250D") + step("b", deadline="P250W") + chain("a", "b"),
                              statutoryLimit="PT10000H"))
    loaded = load_procedure(source, "t.bpmn")
    assert loaded.definition.statutory_limit_seconds == MAX_WORKING_SECONDS
    assert {s.allowance_seconds for s in loaded.definition.steps.values()} == {MAX_WORKING_SECONDS}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("P" + "9" * 5000 + "D", "5,002 characters long; a duration is at most 40"),
        ("P1." + "5" * 10_000 + "D", "10,004 characters long"),
        ("P1e309D", "expected P[nW][nD]"),
        ("PNaND", "expected P[nW][nD]"),
        ("PInfD", "expected P[nW][nD]"),
        ("P-5D", "expected P[nW][nD]"),
        ("-P5D", "negative durations are not allowed"),
        ("P\u0661D", "expected P[nW][nD]"),  # an Arabic-Indic one: digits are ASCII
    ],
)
def test_no_duration_text_raises_anything_but_a_problem(value: str, why: str) -> None:
    found = errors_of(document(process(step("a", deadline=value) + step("b") + chain("a", "b"))))
    assert len(found) == 1 and found[0][0] == "a", found
    assert found[0][1].startswith("deadline: invalid working-time duration ") and why in found[0][1], found


def test_a_zero_allowance_is_still_due_at_once() -> None:
    source = document(process(step("a", deadline="P0D") + step("b") + chain("a", "b")))
    assert load_procedure(source, "t.bpmn").definition.steps["a"].allowance_seconds == 0


def test_a_version_deployed_before_the_bound_still_loads_with_a_warning() -> None:
    source = document(process(step("a", deadline=HUGE) + step("b") + chain("a", "b"), statutoryLimit="P2000000D"))
    loaded = load_procedure(source, "t.bpmn", deployed=True)
    assert loaded.definition.steps["a"].allowance_seconds == 99999999999999999999 * WORKING_DAY_SECONDS
    assert loaded.definition.statutory_limit_seconds == 2_000_000 * WORKING_DAY_SECONDS
    with pytest.raises(ProcedureInvalid):
        load_procedure(source, "t.bpmn")
    # Malformed stays malformed, deployed or not.
    with pytest.raises(ProcedureInvalid):
        load_procedure(simple(statutoryLimit="P" + "9" * 50 + "D"), "t.bpmn", deployed=True)


# --------------------------------------------------------------------------- the calendar's guard

MONDAY = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi


def test_the_calendar_counts_up_to_the_bound() -> None:
    calendar = WorkingCalendar()
    due = calendar.add(MONDAY, MAX_WORKING_SECONDS)
    assert due.year == 2031
    assert calendar.between(MONDAY, due) == MAX_WORKING_SECONDS


@pytest.mark.parametrize("seconds", [MAX_WORKING_SECONDS + 1, 2_000_000 * WORKING_DAY_SECONDS,
                                     99999999999999999999 * WORKING_DAY_SECONDS, 10**400],
                         ids=["bound+1s", "P2000000D", "P99999999999999999999D", "10^400s"])
def test_the_calendar_refuses_more_at_once_without_walking_or_overflowing(seconds: int) -> None:
    with pytest.raises(WorkingTimeOutOfRange, match="cannot count more than 10,000 working hours"):
        WorkingCalendar().add(MONDAY, seconds)


def test_the_calendar_refuses_a_due_past_year_9999_with_its_own_error() -> None:
    with pytest.raises(WorkingTimeOutOfRange, match="after the last date a calendar can hold"):
        WorkingCalendar(use_public_holidays=False).add(datetime(9999, 6, 1, 1, tzinfo=UTC), MAX_WORKING_SECONDS)


def test_working_time_out_of_range_is_a_value_error() -> None:
    assert issubclass(WorkingTimeOutOfRange, ValueError)


# --------------------------------------------------------------------------- size bounds


def fan_out(flows: int) -> bytes:
    """One exclusive gateway with ``flows`` conditional flows to the same step (issue 10's file)."""
    body = (step("a") + '<bpmn:exclusiveGateway id="gw" default="f0"/><bpmn:startEvent id="start"/>'
            '<bpmn:endEvent id="end"/>' + flow("start", "gw") + flow("a", "end")
            + "".join(flow("gw", "a", f"x == {i}", flow_id=f"f{i}") for i in range(flows)))
    return document(process(body))


def test_too_many_sequence_flows_is_one_problem_line() -> None:
    source = fan_out(MAX_SEQUENCE_FLOWS)
    assert errors_of(source) == [("proc", f"the process has {MAX_SEQUENCE_FLOWS + 2} sequence flows; the limit "
                                  f"is {MAX_SEQUENCE_FLOWS} (an ISO procedure is a few dozen steps)")]
    assert errors_of(fan_out(MAX_SEQUENCE_FLOWS - 2)) == []


def test_a_file_past_the_node_bound_is_refused_before_any_check() -> None:
    source = fan_out(MAX_NODES // 2)
    problems = validate_source(source, "t.bpmn")
    assert len(problems) == 1
    assert str(problems[0]).startswith("t.bpmn: the file has ")
    assert problems[0].message.endswith(f"XML nodes (elements, comments...); the limit is {MAX_NODES:,} "
                                        "(an ISO procedure is a few dozen steps)")


class CountingElement(etree.ElementBase):
    """An element that counts how often it is compared: scanning a list of flows compares them."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        CountingElement.compared += 1
        return self is other

    __hash__ = etree.ElementBase.__hash__


def comparisons_checking(source: bytes) -> int:
    parser = etree.XMLParser()
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(element=CountingElement))
    root = etree.fromstring(source, parser)
    proc = root.find(f"{{{BPMN_NS}}}process")
    assert proc is not None
    report = Report("t.bpmn", root)
    CountingElement.compared = 0
    check_structure(proc, report)
    assert not report.has_errors, report.problems()
    return CountingElement.compared


def test_the_gateway_check_looks_at_each_flow_once() -> None:
    """Linear, not quadratic: twice the flows never means four times the work (issue 10, item 9)."""
    small, large = fan_out(MAX_SEQUENCE_FLOWS // 4), fan_out(MAX_SEQUENCE_FLOWS // 2)
    assert comparisons_checking(small) <= MAX_SEQUENCE_FLOWS // 4
    assert comparisons_checking(large) <= MAX_SEQUENCE_FLOWS // 2

