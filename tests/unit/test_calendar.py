"""The legal working-time calendar: hand-computed examples and properties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core import calendar as calendar_module
from engine.core.calendar import (
    CalendarConfigError,
    CalendarOverrides,
    WorkingCalendar,
    parse_periods,
    parse_weekdays,
    swapped_working_days,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = 3600
DAY = 8 * HOUR
ROOT = Path(__file__).resolve().parents[2]

CAL = WorkingCalendar()  # shared: its caches make the property tests fast


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, *, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=VN)


# ---- days ------------------------------------------------------------------------------


def test_weekend_is_not_working() -> None:
    assert CAL.is_working_day(date(2025, 1, 10))  # Friday
    assert not CAL.is_working_day(date(2025, 1, 11))  # Saturday
    assert not CAL.is_working_day(date(2025, 1, 12))  # Sunday


def test_tet_2026_is_off() -> None:
    for day in range(16, 21):  # Mon 16 - Fri 20 February 2026
        assert not CAL.is_working_day(date(2026, 2, day)), day
    assert CAL.is_working_day(date(2026, 2, 13))
    assert CAL.is_working_day(date(2026, 2, 23))


def test_swapped_saturday_2025() -> None:
    assert date(2025, 4, 26) in swapped_working_days()
    assert CAL.is_working_day(date(2025, 4, 26))  # Saturday worked
    assert not CAL.is_working_day(date(2025, 5, 2))  # Friday off in exchange
    assert not CAL.is_working_day(date(2025, 4, 30))
    assert not CAL.is_working_day(date(2025, 5, 1))


def test_vietnam_culture_day_2026() -> None:
    assert not CAL.is_working_day(date(2026, 11, 24))
    assert CAL.add(at(2026, 11, 23, 16), 2 * HOUR) == at(2026, 11, 25, 8, 30)


def test_without_public_holidays() -> None:
    plain = WorkingCalendar(use_public_holidays=False)
    assert plain.is_working_day(date(2026, 2, 16))
    assert not plain.is_working_day(date(2025, 4, 26))  # no swapped Saturdays either


def test_is_working_day_rejects_datetime() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(at(2025, 1, 10, 9))


# ---- instants --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "working"),
    [
        (at(2025, 1, 8, 7, 29, s=59), False),
        (at(2025, 1, 8, 7, 30), True),
        (at(2025, 1, 8, 11, 29, s=59), True),
        (at(2025, 1, 8, 11, 30), False),
        (at(2025, 1, 8, 13, 0), True),
        (at(2025, 1, 8, 17, 0), False),
        (at(2025, 1, 11, 9, 0), False),  # Saturday
    ],
)
def test_is_working_time(t: datetime, working: bool) -> None:
    assert CAL.is_working_time(t) is working


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (at(2025, 1, 8, 9, 15), at(2025, 1, 8, 9, 15)),
        (at(2025, 1, 8, 6, 0), at(2025, 1, 8, 7, 30)),
        (at(2025, 1, 8, 11, 30), at(2025, 1, 8, 13, 0)),
        (at(2025, 1, 8, 17, 0), at(2025, 1, 9, 7, 30)),
        (at(2025, 1, 11, 10, 0), at(2025, 1, 13, 7, 30)),  # Saturday -> Monday
        (at(2026, 2, 13, 17, 0), at(2026, 2, 23, 7, 30)),  # Friday evening before Tết
    ],
)
def test_next_working_instant(t: datetime, expected: datetime) -> None:
    assert CAL.next_working_instant(t) == expected


def test_results_are_in_calendar_zone() -> None:
    t = datetime(2025, 1, 8, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
    result = CAL.next_working_instant(t)
    assert result == t
    assert result.tzinfo == VN
    assert result.hour == 9


# ---- case start ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "start"),
    [
        (at(2025, 1, 8, 9, 0), at(2025, 1, 8, 9, 0)),
        (at(2025, 1, 8, 6, 45), at(2025, 1, 8, 7, 30)),  # before opening
        (at(2025, 1, 8, 12, 0), at(2025, 1, 9, 7, 30)),  # lunch break: outside working time, next working day
        (at(2025, 1, 8, 14, 59, s=59), at(2025, 1, 8, 14, 59, s=59)),
        (at(2025, 1, 8, 15, 0, s=0), at(2025, 1, 8, 15, 0, s=0)),  # the cut-off itself is not after it
        (at(2025, 1, 8, 15, 0, s=1), at(2025, 1, 9, 7, 30)),
        (at(2025, 1, 8, 16, 30), at(2025, 1, 9, 7, 30)),
        (at(2025, 1, 8, 18, 0), at(2025, 1, 9, 7, 30)),
        (at(2025, 1, 10, 15, 30), at(2025, 1, 13, 7, 30)),  # Friday after cut-off -> Monday
        (at(2025, 1, 11, 10, 0), at(2025, 1, 13, 7, 30)),  # Saturday
        (at(2026, 2, 13, 15, 30), at(2026, 2, 23, 7, 30)),  # before Tết 2026
        (at(2025, 4, 25, 16, 0), at(2025, 4, 26, 7, 30)),  # swapped Saturday is a working day
    ],
)
def test_case_start(received: datetime, start: datetime) -> None:
    assert CAL.case_start(received) == start


def test_case_start_without_cutoff() -> None:
    assert WorkingCalendar(cutoff=None).case_start(at(2025, 1, 8, 16, 0)) == at(2025, 1, 8, 16, 0)


# ---- add and between -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        (at(2025, 1, 6, 7, 30), DAY, at(2025, 1, 6, 17, 0)),  # ends at closing, not next morning
        (at(2025, 1, 6, 7, 30), 4 * HOUR, at(2025, 1, 6, 11, 30)),
        (at(2025, 1, 6, 11, 0), HOUR, at(2025, 1, 6, 13, 30)),
        (at(2025, 1, 6, 7, 30), 5 * DAY, at(2025, 1, 10, 17, 0)),
        (at(2025, 1, 10, 16, 0), 2 * HOUR, at(2025, 1, 13, 8, 30)),  # weekend crossing
        (at(2025, 1, 11, 9, 0), HOUR, at(2025, 1, 13, 8, 30)),  # start on Saturday
        (at(2025, 1, 6, 7, 30), 10 * DAY, at(2025, 1, 17, 17, 0)),
        (at(2026, 2, 13, 16, 0), 2 * HOUR, at(2026, 2, 23, 8, 30)),  # over Tết 2026
        (at(2025, 4, 25, 16, 0), 2 * HOUR, at(2025, 4, 26, 8, 30)),  # into the swapped Saturday
        (at(2025, 4, 29, 16, 0), 2 * HOUR, at(2025, 5, 5, 8, 30)),  # 30/4, 1/5, 2/5 off
        (at(2025, 1, 8, 20, 0), 0, at(2025, 1, 8, 20, 0)),  # zero: start unchanged
    ],
)
def test_add(start: datetime, seconds: int, due: datetime) -> None:
    assert CAL.add(start, seconds) == due
    assert CAL.between(start, due) == seconds


def test_add_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add(at(2025, 1, 6, 9), -1)


@pytest.mark.parametrize(
    ("a", "b", "seconds"),
    [
        (at(2025, 1, 6, 7, 30), at(2025, 1, 7, 7, 30), DAY),
        (at(2025, 1, 6, 11, 0), at(2025, 1, 6, 13, 30), HOUR),
        (at(2025, 1, 10, 16, 0), at(2025, 1, 13, 8, 30), 2 * HOUR),
        (at(2025, 1, 6, 0, 0), at(2025, 1, 13, 0, 0), 5 * DAY),
        (at(2025, 1, 7, 9, 0), at(2025, 1, 7, 9, 0), 0),
        (at(2025, 1, 7, 10, 0), at(2025, 1, 7, 9, 0), 0),
        (at(2026, 2, 13, 0, 0), at(2026, 2, 23, 0, 0), DAY),
    ],
)
def test_between(a: datetime, b: datetime, seconds: int) -> None:
    assert CAL.between(a, b) == seconds


def test_add_ten_days_of_2025_holiday_season() -> None:
    # Mon 21 Apr 2025 07:30 + P10D: 21-25 (5), Sat 26 (swapped, 6), 28-29 (8), 30/4-2/5 off, 5-6 May (10).
    assert CAL.add(at(2025, 4, 21, 7, 30), 10 * DAY) == at(2025, 5, 6, 17, 0)


def test_long_durations_are_fast() -> None:
    start = at(2025, 1, 6, 9, 0)
    for _ in range(200):
        due = CAL.add(start, 300 * DAY)
        assert CAL.between(start, due) == 300 * DAY


@pytest.mark.parametrize(
    "call",
    [
        CAL.is_working_time,
        CAL.next_working_instant,
        CAL.case_start,
        lambda t: CAL.add(t, HOUR),
        lambda t: CAL.between(t, t),
        CAL.local,
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[datetime], object]) -> None:
    with pytest.raises(ValueError, match="naive"):
        call(datetime(2025, 1, 8, 9, 0))


def test_day_seconds_and_day_bounds() -> None:
    assert CAL.day_seconds == DAY
    assert CAL.start_of_day(date(2025, 1, 8)) == at(2025, 1, 8, 7, 30)
    assert CAL.end_of_day(date(2025, 1, 8)) == at(2025, 1, 8, 17, 0)
    assert CAL.next_working_day(date(2025, 1, 10)) == date(2025, 1, 13)


def test_custom_calendar_with_saturday() -> None:
    cal = WorkingCalendar(periods=parse_periods("08:00-12:00"), weekdays=parse_weekdays("mon-sat"))
    assert cal.day_seconds == 4 * HOUR
    assert cal.add(at(2025, 1, 10, 11, 0), 2 * HOUR) == at(2025, 1, 11, 9, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timezone": "Mars/Olympus"},
        {"periods": ()},
        {"periods": ((time(12), time(11)),)},
        {"periods": ((time(8), time(12)), (time(11), time(17)))},
        {"weekdays": frozenset()},
        {"weekdays": frozenset({7})},
    ],
)
def test_bad_calendar_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(CalendarConfigError):
        WorkingCalendar(**kwargs)


# ---- settings parsers ------------------------------------------------------------------


def test_parse_periods() -> None:
    assert parse_periods("07:30-11:30,13:00-17:00") == ((time(7, 30), time(11, 30)), (time(13), time(17)))
    assert parse_periods(" 08:00 - 12:00 ") == ((time(8), time(12)),)


@pytest.mark.parametrize(
    "text", ["", "07:30", "07:30-11:30-12:00", "7h-11h", "11:30-07:30", "08:00-12:00,11:00-13:00"]
)
def test_parse_periods_errors(text: str) -> None:
    with pytest.raises(CalendarConfigError, match="working periods"):
        parse_periods(text)


def test_parse_weekdays() -> None:
    assert parse_weekdays("mon-fri") == frozenset(range(5))
    assert parse_weekdays("mon,tue,wed,thu,fri,sat") == frozenset(range(6))
    assert parse_weekdays("Mon-Fri, Saturday") == frozenset(range(6))


@pytest.mark.parametrize("text", ["", "fri-mon", "mon-tue-wed", "monkey", "mon;tue"])
def test_parse_weekdays_errors(text: str) -> None:
    with pytest.raises(CalendarConfigError, match="weekdays"):
        parse_weekdays(text)


# ---- overrides -------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_override_file_makes_a_saturday_working(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[working_day]]
date = 2025-01-11
reason = "Saturday worked"

[[holiday]]
date = 2025-01-13
reason = "provincial day off"
""",
    )
    overrides = CalendarOverrides.from_toml(path)
    assert overrides.working_days == {date(2025, 1, 11): "Saturday worked"}
    cal = WorkingCalendar(overrides=overrides)
    assert cal.is_working_day(date(2025, 1, 11))
    assert not cal.is_working_day(date(2025, 1, 13))
    assert cal.add(at(2025, 1, 10, 16, 0), 2 * HOUR) == at(2025, 1, 11, 8, 30)
    assert cal.add(at(2025, 1, 11, 16, 0), 2 * HOUR) == at(2025, 1, 14, 8, 30)


def test_overrides_win_over_package() -> None:
    overrides = CalendarOverrides(
        holidays={date(2025, 4, 26): "swap cancelled"}, working_days={date(2026, 2, 16): "open"}
    )
    cal = WorkingCalendar(overrides=overrides)
    assert not cal.is_working_day(date(2025, 4, 26))
    assert cal.is_working_day(date(2026, 2, 16))


def test_empty_override_file(tmp_path: Path) -> None:
    overrides = CalendarOverrides.from_toml(write(tmp_path, "# nothing this year\n"))
    assert not overrides.holidays and not overrides.working_days


def test_shipped_override_file_loads() -> None:
    overrides = CalendarOverrides.from_toml(ROOT / "config" / "calendar-overrides.toml")
    assert overrides.holidays or overrides.working_days
    for day in (*overrides.holidays, *overrides.working_days):
        assert day.year >= 2026


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[holiday]]\ndate = 2026-01-02\n", "reason"),
        ('[[holiday]]\nreason = "x"\n', "missing 'date'"),
        ('[[holiday]]\ndate = "2026-01-02"\nreason = "x"\n', "TOML date"),
        ('[[holiday]]\ndate = 2026-01-02T08:00:00\nreason = "x"\n', "TOML date"),
        ('[[holiday]]\ndate = 2026-01-02\nreason = "x"\nnote = "y"\n', "unknown key"),
        ('[[holidays]]\ndate = 2026-01-02\nreason = "x"\n', "unknown key"),
        ('holiday = "2026-01-02"\n', "array of tables"),
        (
            '[[holiday]]\ndate = 2026-01-02\nreason = "x"\n[[holiday]]\ndate = 2026-01-02\nreason = "y"\n',
            "already listed",
        ),
        (
            '[[holiday]]\ndate = 2026-01-02\nreason = "x"\n'
            '[[working_day]]\ndate = 2026-01-02\nreason = "y"\n',
            "already listed",
        ),
        ("[[holiday]\n", "not valid TOML"),
    ],
)
def test_bad_override_file(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CalendarConfigError, match=problem) as info:
        CalendarOverrides.from_toml(path)
    assert str(path) in str(info.value)


def test_bad_override_file_names_the_entry(tmp_path: Path) -> None:
    path = write(tmp_path, '[[holiday]]\ndate = 2026-01-02\nreason = "x"\n[[holiday]]\ndate = 2026-01-03\n')
    with pytest.raises(CalendarConfigError, match=r"\[\[holiday\]\] entry #2 \(date 2026-01-03\)"):
        CalendarOverrides.from_toml(path)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarConfigError, match="cannot read"):
        CalendarOverrides.from_toml(tmp_path / "absent.toml")


def test_overrides_cannot_be_both() -> None:
    with pytest.raises(CalendarConfigError, match="both"):
        CalendarOverrides(holidays={date(2026, 1, 2): "a"}, working_days={date(2026, 1, 2): "b"})


# ---- swapped Saturdays from the package, defensively -----------------------------------


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({2025: (5, 2, 4, 26)}, {date(2025, 4, 26)}),
        ({2015: ((1, 2, 12, 27, 2014), (2, 16, 2, 14))}, {date(2014, 12, 27), date(2015, 2, 14)}),
        ({2018: (12, 31, 1, 5, 2019)}, {date(2019, 1, 5)}),
        ({2025: (5, 2, "name")}, set()),
        ({2025: ((5, 2, 4, 31),)}, set()),  # impossible date
        ({"2025": (5, 2, 4, 26)}, set()),
        ({2025: "garbage"}, set()),
        ("not a mapping", set()),
    ],
)
def test_swapped_days_are_read_defensively(
    monkeypatch: pytest.MonkeyPatch, mapping: object, expected: set[date]
) -> None:
    from holidays.countries.vietnam import VietnamStaticHolidays

    monkeypatch.setattr(VietnamStaticHolidays, "special_public_holidays", mapping)
    assert calendar_module.swapped_working_days() == expected


def test_swapped_days_missing_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    from holidays.countries.vietnam import VietnamStaticHolidays

    monkeypatch.delattr(VietnamStaticHolidays, "special_public_holidays")
    assert calendar_module.swapped_working_days() == frozenset()


# ---- properties ------------------------------------------------------------------------

ZONES = st.sampled_from([VN, UTC, ZoneInfo("Europe/Paris")])
instants = st.datetimes(
    min_value=datetime(2024, 12, 1), max_value=datetime(2026, 12, 31), timezones=ZONES
).map(lambda t: t.replace(microsecond=0))
precise_instants = st.datetimes(
    min_value=datetime(2024, 12, 1), max_value=datetime(2026, 12, 31), timezones=ZONES
)
amounts = st.one_of(
    st.integers(min_value=0, max_value=3 * DAY),
    st.integers(min_value=0, max_value=120 * DAY),
    st.sampled_from([0, HOUR, 4 * HOUR, DAY, 5 * DAY, 10 * DAY]),
)
PROPS = settings(max_examples=200, deadline=None)


def in_zone(t: datetime) -> bool:
    return t.tzinfo == VN and t.utcoffset() is not None


@PROPS
@given(precise_instants, amounts, amounts)
def test_add_is_additive(start: datetime, a: int, b: int) -> None:
    assert CAL.add(start, a + b) == CAL.add(CAL.add(start, a), b)


@PROPS
@given(precise_instants, amounts)
def test_between_inverts_add(start: datetime, n: int) -> None:
    due = CAL.add(start, n)
    assert in_zone(due)
    assert due >= start
    assert CAL.between(start, due) == n


@PROPS
@given(instants, st.integers(min_value=1, max_value=60 * DAY))
def test_add_is_the_earliest_such_instant(start: datetime, n: int) -> None:
    due = CAL.add(start, n)
    assert CAL.between(start, due - timedelta(seconds=1)) == n - 1


@PROPS
@given(instants, amounts, st.integers(min_value=0, max_value=5 * DAY))
def test_add_is_monotonic(start: datetime, n: int, k: int) -> None:
    assert CAL.add(start, n) <= CAL.add(start, n + k)


@PROPS
@given(precise_instants, precise_instants, precise_instants)
def test_between_is_additive(x: datetime, y: datetime, z: datetime) -> None:
    a, b, c = sorted((x, y, z))
    assert CAL.between(a, b) + CAL.between(b, c) == CAL.between(a, c)
    assert CAL.between(c, a) == 0


@PROPS
@given(precise_instants)
def test_next_working_instant_is_idempotent(t: datetime) -> None:
    n = CAL.next_working_instant(t)
    assert in_zone(n)
    assert n >= t
    assert CAL.is_working_time(n)
    assert CAL.next_working_instant(n) == n
    assert CAL.between(t, n) == 0


@PROPS
@given(precise_instants)
def test_case_start_is_working_time(t: datetime) -> None:
    s = CAL.case_start(t)
    assert in_zone(s)
    assert s >= t
    assert CAL.is_working_time(s)
    assert s == t or CAL.local(s).time() in (time(7, 30), time(13, 0))


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(VN)),
    st.integers(min_value=0, max_value=3 * 24 * 60),
)
def test_between_matches_minute_by_minute_count(start: datetime, minutes: int) -> None:
    a = start.replace(second=0, microsecond=0)
    working = sum(CAL.is_working_time(a + timedelta(minutes=m)) for m in range(minutes))
    assert CAL.between(a, a + timedelta(minutes=minutes)) == 60 * working
