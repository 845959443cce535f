"""Domain words as types (issue 11): the enums speak the contract's strings, keys have one builder,
the calendar and the clock the engine runs with satisfy the protocols its signatures name."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from engine.core import nonconformities as nc
from engine.core.calendar import Calendar, WorkingCalendar
from engine.core.clock import Clock, ManualClock, SystemClock
from engine.core.events import MAX_NESTING, unstorable
from engine.core.states import CaseStatus, EventOutcome, NonconformityStatus, StepStatus, Timeliness

WORDS = {
    CaseStatus: ["open", "suspended", "awaiting_supplement", "resolved", "returned", "withdrawn", "rejected",
                 "stopped"],
    StepStatus: ["active", "completed", "skipped", "abandoned"],
    Timeliness: ["early", "on_time", "late"],
    NonconformityStatus: ["open", "correction_recorded", "cause_analysed", "action_planned", "action_verified",
                          "closed", "retracted"],
    EventOutcome: ["applied", "duplicate", "parked", "refused"],
}


@pytest.mark.parametrize("enum", list(WORDS))
def test_each_word_is_its_string_wherever_it_goes(enum: type) -> None:
    members = list(enum)  # type: ignore[call-overload]
    assert members == WORDS[enum]
    assert json.dumps(members) == json.dumps(WORDS[enum])
    out = io.StringIO()
    csv.writer(out).writerow(members)
    assert out.getvalue().strip() == ",".join(WORDS[enum])
    assert [f"{m}" for m in members] == WORDS[enum]
    assert {m: 1 for m in members} == {w: 1 for w in WORDS[enum]}


def test_one_builder_for_the_record_keys() -> None:
    assert nc.step_key("C-1", 1) == "C-1:step_timeliness:1"
    assert nc.case_key("C-1") == "C-1:case_timeliness"
    assert nc.record_key("C-1", nc.LATE_SUPPLEMENT_REQUEST, "e-9") == "C-1:late_supplement_request:e-9"


def test_one_nesting_limit() -> None:
    def nested(depth: int) -> object:
        value: object = 1
        for _ in range(depth):
            value = [value]
        return value

    assert unstorable(nested(MAX_NESTING)) is None
    assert unstorable(nested(MAX_NESTING + 2)) == f"event{'[0]' * (MAX_NESTING + 1)} is nested more than " \
                                                  f"{MAX_NESTING} levels deep"


def test_the_engine_runs_with_what_its_protocols_name() -> None:
    calendar: Calendar = WorkingCalendar(use_public_holidays=False)
    clocks: list[Clock] = [SystemClock(), ManualClock(datetime(2026, 3, 2, tzinfo=UTC))]
    for name in ("zone", "day_seconds", "local", "is_working_day", "is_working_time", "next_working_instant",
                 "case_start", "add", "between"):
        assert hasattr(calendar, name), name
    assert calendar.day_seconds == 8 * 3600
    assert all(clock.now().tzinfo is not None for clock in clocks)
