"""Working-time ISO 8601 durations."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.calendar import WorkingCalendar
from engine.core.durations import (
    MAX_WORKING_SECONDS,
    WORKING_DAY_SECONDS,
    DurationError,
    format_working_duration,
    parse_working_duration,
)

HOUR = 3600


def test_working_day_is_eight_hours() -> None:
    assert WORKING_DAY_SECONDS == 8 * HOUR == WorkingCalendar().day_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("P10D", 80 * HOUR),
        ("P1D", 8 * HOUR),
        ("P0.5D", 4 * HOUR),
        ("P0,5D", 4 * HOUR),
        ("P0.25D", 2 * HOUR),
        ("PT4H", 4 * HOUR),
        ("PT30M", 1800),
        ("PT45S", 45),
        ("P1DT4H", 12 * HOUR),
        ("PT1H30M", 5400),
        ("PT1.5H", 5400),
        ("P2W", 80 * HOUR),
        ("P1W2D", 56 * HOUR),
        ("P7D", 56 * HOUR),
        ("P0D", 0),
        ("PT0H", 0),
        (" p1d ", 8 * HOUR),
        ("P0.0001D", 3),  # 2.88 s rounds to 3
        ("PT0.5S", 1),  # half rounds up
    ],
)
def test_parse(text: str, seconds: int) -> None:
    assert parse_working_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-P1D", "negative"),
        ("P-1D", "expected"),
        ("P1M", "months and years are not working time"),
        ("P1Y", "months and years are not working time"),
        ("P1Y2D", "months and years"),
        ("10D", "must start with 'P'"),
        ("P", "no amount"),
        ("PT", "no amount"),
        ("P1DT", "'T' must be followed"),
        ("P0.5DT4H", "only the last component"),
        ("PT1.5H30M", "only the last component"),
        ("PT1M1H", "expected"),
        ("P1D1D", "expected"),
        ("P.5D", "expected"),
        ("P1 D", "expected"),
        ("abc", "must start with 'P'"),
        ("P1H", "expected"),
    ],
)
def test_parse_errors(text: str, why: str) -> None:
    with pytest.raises(DurationError, match=why) as info:
        parse_working_duration(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("P1251D", "longer than P1250D (10,000 working hours), the longest time limit or step allowance"),
        ("P99999999999999999999D", "longer than P1250D"),
        ("P" + "9" * 5000 + "D", "5,002 characters long; a duration is at most 40"),
        ("PT" + "1" * 38 + "S", "41 characters long"),
        ("P1e309D", "expected"),
        ("PNaND", "expected"),
        ("P\u0661D", "expected"),
    ],
)
def test_parse_refuses_what_no_procedure_needs_without_overflow(text: str, why: str) -> None:
    with pytest.raises(DurationError, match=re.escape(why)):
        parse_working_duration(text)


def test_the_bound_is_the_calendars() -> None:
    assert parse_working_duration("P1250D") == parse_working_duration("PT10000H") == MAX_WORKING_SECONDS
    assert parse_working_duration("P1251D", maximum=None) == 1251 * WORKING_DAY_SECONDS
    assert parse_working_duration("P" + "9" * 38 + "D", maximum=None) == int("9" * 38) * WORKING_DAY_SECONDS
    with pytest.raises(DurationError, match="longer than PT1H"):
        parse_working_duration("PT61M", maximum=3600)


def test_parse_refuses_non_text() -> None:
    with pytest.raises(DurationError):
        parse_working_duration(10)  # type: ignore[arg-type]


def test_duration_error_is_value_error() -> None:
    assert issubclass(DurationError, ValueError)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "PT0S"),
        (14400, "PT4H"),
        (28800, "P1D"),
        (80 * HOUR, "P10D"),
        (12 * HOUR, "P1DT4H"),
        (5400, "PT1H30M"),
        (36090, "P1DT2H1M30S"),
    ],
)
def test_format(seconds: int, text: str) -> None:
    assert format_working_duration(seconds) == text


def test_format_refuses_negative() -> None:
    with pytest.raises(DurationError):
        format_working_duration(-1)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=1000 * WORKING_DAY_SECONDS))
def test_format_round_trips(seconds: int) -> None:
    assert parse_working_duration(format_working_duration(seconds)) == seconds
