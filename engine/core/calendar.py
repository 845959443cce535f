"""Legal working time: which instants count, and how to add and measure working seconds.

Working days are the configured weekdays (Monday–Friday) less Vietnam's public holidays
and substituted days off (``holidays`` package), plus the government's swapped working
Saturdays (làm bù), plus/minus a hand-kept overrides file (:mod:`calendar_overrides`).
Overrides win over everything; a swapped Saturday wins over a holiday.

Swapped Saturdays: ``holidays`` records them only as the *source* of a substituted day off,
in ``VietnamStaticHolidays.special_public_holidays`` — entries ``(month, day, from_month,
from_day[, from_year])`` meaning "day off on month/day, worked on from_month/from_day".  The
worked dates are read from that mapping; entries of any other shape are ignored, and if the
attribute is missing no swapped days are known (use the overrides file then).

All instants are timezone-aware; naive input raises ``ValueError``.  Internally everything is
compared in UTC; results are returned in the calendar's zone.  Working seconds are counted at
whole-second resolution: ``between`` drops sub-second parts of its arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from engine.core.calendar_overrides import CalendarConfigError, CalendarOverrides

__all__ = [
    "DEFAULT_PERIODS",
    "DEFAULT_WEEKDAYS",
    "MAX_WORKING_SECONDS",
    "Calendar",
    "CalendarConfigError",
    "CalendarOverrides",
    "WorkingCalendar",
    "WorkingTimeOutOfRange",
    "parse_periods",
    "parse_weekdays",
    "swapped_working_days",
]

Period = tuple[time, time]
DEFAULT_PERIODS: tuple[Period, ...] = ((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0)))
DEFAULT_WEEKDAYS: frozenset[int] = frozenset({0, 1, 2, 3, 4})
_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MAX_IDLE_DAYS = 366  # a calendar with no working day in a year is a configuration error
_ONE_DAY = timedelta(days=1)

#: The most working time the engine ever counts in one go: 5 years of 250 working days of 8 working
#: hours, i.e. 10,000 working hours (``P1250D``).  Statutory limits and step allowances are bounded
#: by it when a procedure is validated (``engine.core.durations``); ``WorkingCalendar.add`` refuses
#: more, so that a value that slipped past (a version deployed before the bound) costs milliseconds
#: and a clear refusal, never seconds of day-by-day walking or an ``OverflowError``.
MAX_WORKING_SECONDS = 5 * 250 * 8 * 3600


class Calendar(Protocol):
    """What the engine asks of a working-time calendar (``WorkingCalendar`` is the one it runs with)."""

    @property
    def zone(self) -> ZoneInfo: ...
    @property
    def day_seconds(self) -> int: ...
    def local(self, t: datetime) -> datetime: ...
    def is_working_day(self, d: date) -> bool: ...
    def is_working_time(self, t: datetime) -> bool: ...
    def next_working_instant(self, t: datetime) -> datetime: ...
    def case_start(self, received: datetime) -> datetime: ...
    def add(self, start: datetime, seconds: int) -> datetime: ...
    def between(self, a: datetime, b: datetime) -> int: ...


class WorkingTimeOutOfRange(ValueError):
    """Working time the calendar will not count: beyond ``MAX_WORKING_SECONDS``, or past year 9999."""


def swapped_working_days() -> frozenset[date]:
    """Saturdays the government made working days, as known to the ``holidays`` package."""
    try:
        from holidays.countries.vietnam import VietnamStaticHolidays

        mapping = VietnamStaticHolidays.special_public_holidays
        items = list(mapping.items())
    except (ImportError, AttributeError, TypeError):
        return frozenset()
    found: set[date] = set()
    for year, entries in items:
        if not isinstance(year, int) or not isinstance(entries, tuple) or not entries:
            continue
        group = (entries,) if all(isinstance(x, int) for x in entries) else entries
        for entry in group:
            if not (isinstance(entry, tuple) and len(entry) in (4, 5)):
                continue
            if not all(isinstance(x, int) for x in entry):
                continue
            from_year = entry[4] if len(entry) == 5 else year
            try:
                found.add(date(from_year, entry[2], entry[3]))
            except ValueError:
                continue
    return frozenset(found)


def _require_aware(t: datetime) -> None:
    if not isinstance(t, datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}: working-time instants must carry a time zone")


class WorkingCalendar:
    """A working-time calendar: days, daily periods, a cut-off for the case clock, holidays."""

    def __init__(
        self,
        *,
        timezone: str | ZoneInfo = "Asia/Ho_Chi_Minh",
        periods: Iterable[Period] = DEFAULT_PERIODS,
        weekdays: Iterable[int] = DEFAULT_WEEKDAYS,
        cutoff: time | None = time(15, 0),
        overrides: CalendarOverrides | None = None,
        use_public_holidays: bool = True,
    ) -> None:
        try:
            self.zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarConfigError(f"unknown time zone {timezone!r}") from exc
        self.periods: tuple[Period, ...] = tuple(periods)
        _check_periods(self.periods)
        self.weekdays = frozenset(weekdays)
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise CalendarConfigError(
                f"weekdays must be a non-empty subset of 0..6 (Monday 0), got {sorted(self.weekdays)}"
            )
        self.cutoff = cutoff
        self.overrides = overrides or CalendarOverrides()
        self.use_public_holidays = use_public_holidays
        self._swapped = swapped_working_days() if use_public_holidays else frozenset()
        self._holidays_by_year: dict[int, frozenset[date]] = {}
        self._is_working: dict[date, bool] = {}
        self._spans: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._day_total: dict[date, timedelta] = {}

    def __repr__(self) -> str:
        return f"WorkingCalendar(timezone={self.zone.key!r}, periods={self.periods!r})"

    @property
    def day_seconds(self) -> int:
        """Nominal working seconds of one full working day (8 h by default)."""
        return sum(_seconds(end) - _seconds(start) for start, end in self.periods)

    # ---- days -------------------------------------------------------------------------
    def public_holidays(self, year: int) -> frozenset[date]:
        if year not in self._holidays_by_year:
            days = holidays.country_holidays("VN", years=year) if self.use_public_holidays else {}
            self._holidays_by_year[year] = frozenset(d for d in days if d.year == year)
        return self._holidays_by_year[year]

    def is_working_day(self, d: date) -> bool:
        if isinstance(d, datetime):
            raise TypeError("is_working_day takes a date; use local(t).date() for an instant")
        cached = self._is_working.get(d)
        if cached is None:
            if self.overrides.is_holiday(d):
                cached = False
            elif self.overrides.is_working_day(d) or d in self._swapped:
                cached = True
            else:
                cached = d.weekday() in self.weekdays and d not in self.public_holidays(d.year)
            self._is_working[d] = cached
        return cached

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        for _ in range(_MAX_IDLE_DAYS):
            d += _ONE_DAY
            if self.is_working_day(d):
                return d
        raise CalendarConfigError(f"no working day within {_MAX_IDLE_DAYS} days after {d.isoformat()}")

    def start_of_day(self, d: date) -> datetime:
        """Opening of ``d`` (start of its first period), whether or not ``d`` is a working day."""
        return datetime.combine(d, self.periods[0][0], tzinfo=self.zone)

    def end_of_day(self, d: date) -> datetime:
        """Closing of ``d`` (end of its last period)."""
        return datetime.combine(d, self.periods[-1][1], tzinfo=self.zone)

    def _day_spans(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working periods of ``d`` as UTC instants; empty on a non-working day."""
        spans = self._spans.get(d)
        if spans is None:
            spans = ()
            if self.is_working_day(d):
                spans = tuple((self._instant(d, s), self._instant(d, e)) for s, e in self.periods)
            self._spans[d] = spans
            self._day_total[d] = sum((e - s for s, e in spans), timedelta())
        return spans

    def _instant(self, d: date, wall: time) -> datetime:
        return datetime.combine(d, wall, tzinfo=self.zone).astimezone(UTC)

    def _day_length(self, d: date) -> timedelta:
        self._day_spans(d)
        return self._day_total[d]

    def _days_from(self, d: date) -> Iterator[date]:
        """``d`` and the following days, failing if no working day comes for a year."""
        idle = 0
        while True:
            yield d
            idle = 0 if self.is_working_day(d) else idle + 1
            if idle >= _MAX_IDLE_DAYS:
                raise CalendarConfigError(f"no working day in the {_MAX_IDLE_DAYS} days to {d.isoformat()}")
            d += _ONE_DAY

    # ---- instants ---------------------------------------------------------------------
    def local(self, t: datetime) -> datetime:
        _require_aware(t)
        return t.astimezone(self.zone)

    def is_working_time(self, t: datetime) -> bool:
        u = _utc_checked(t)
        return any(s <= u < e for s, e in self._day_spans(self.local(t).date()))

    def next_working_instant(self, t: datetime) -> datetime:
        """``t`` itself if it is working time, else the start of the next working period."""
        u = _utc_checked(t)
        for d in self._days_from(self.local(t).date()):
            for s, e in self._day_spans(d):
                if u < e:
                    return max(u, s).astimezone(self.zone)
        raise AssertionError("unreachable")  # pragma: no cover

    def case_start(self, received: datetime) -> datetime:
        """When the case clock starts for a dossier received at ``received``.

        Contract section 3: received strictly after the cut-off (15:00:00 itself is not after), or
        outside working time, the clock starts at the beginning of the next working day: that
        day's opening when received before it on a working day, else the next working day's
        opening (a receipt during the lunch break starts the next morning). In working time
        before the cut-off, the clock starts at once.
        """
        here = self.local(received)
        d = here.date()
        late = self.cutoff is not None and here.time() > self.cutoff
        if self.is_working_day(d) and not late:
            if self.is_working_time(here):
                return here
            if here < self.start_of_day(d):
                return self.start_of_day(d)
        return self.start_of_day(self.next_working_day(d))

    def add(self, start: datetime, seconds: int) -> datetime:
        """The earliest instant ``t >= start`` with exactly ``seconds`` working seconds in [start, t).

        A due instant at the end of a period stays there (Monday 07:30 + 8 h = Monday 17:00).
        ``seconds == 0`` returns ``start`` itself (in the calendar zone).
        """
        if seconds < 0:
            raise ValueError(f"cannot add a negative working time ({seconds} s)")
        if seconds > MAX_WORKING_SECONDS:
            asked = f"{seconds:,} working seconds" if seconds < 10**15 else "far more"
            raise WorkingTimeOutOfRange(
                f"cannot count more than {MAX_WORKING_SECONDS // 3600:,} working hours at once (the longest "
                f"time limit or step allowance); asked for {asked}")
        u = _utc_checked(start)
        if seconds == 0:
            return u.astimezone(self.zone)
        try:
            return self._add(u, self.local(start).date(), timedelta(seconds=seconds))
        except OverflowError:
            raise WorkingTimeOutOfRange(
                f"{start.isoformat()} + {seconds:,} working seconds falls after the last date a calendar "
                "can hold") from None

    def _add(self, u: datetime, first: date, remaining: timedelta) -> datetime:
        for d in self._days_from(first):
            if d != first:
                length = self._day_length(d)
                if length < remaining:
                    remaining -= length
                    continue
            for s, e in self._day_spans(d):
                if e <= u:
                    continue
                begin = max(u, s)
                if remaining <= e - begin:
                    return (begin + remaining).astimezone(self.zone)
                remaining -= e - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def between(self, a: datetime, b: datetime) -> int:
        """Working seconds in [a, b) at whole-second resolution; 0 when ``b <= a``."""
        ua, ub = _utc_checked(a).replace(microsecond=0), _utc_checked(b).replace(microsecond=0)
        if ub <= ua:
            return 0
        first, last = self.local(ua).date(), self.local(ub).date()
        total = timedelta()
        d = first
        while d <= last:
            if first < d < last:
                total += self._day_length(d)
            else:
                for s, e in self._day_spans(d):
                    lo, hi = max(s, ua), min(e, ub)
                    if lo < hi:
                        total += hi - lo
            d += _ONE_DAY
        return int(total.total_seconds())


def _utc_checked(t: datetime) -> datetime:
    _require_aware(t)
    return t.astimezone(UTC)


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _check_periods(periods: tuple[Period, ...]) -> None:
    if not periods:
        raise CalendarConfigError("at least one working period is needed")
    previous_end: time | None = None
    for start, end in periods:
        if not (isinstance(start, time) and isinstance(end, time)) or start.tzinfo or end.tzinfo:
            raise CalendarConfigError(f"working period {start!r}-{end!r}: expected two naive times")
        if not start < end:
            raise CalendarConfigError(f"working period {start:%H:%M}-{end:%H:%M}: start must be before end")
        if previous_end is not None and start < previous_end:
            raise CalendarConfigError(
                f"working period {start:%H:%M}-{end:%H:%M} overlaps or precedes the previous one"
            )
        previous_end = end


def parse_periods(text: str) -> tuple[Period, ...]:
    """``"07:30-11:30,13:00-17:00"`` -> ((07:30, 11:30), (13:00, 17:00)), in order, no overlap."""
    periods: list[Period] = []
    for part in (p.strip() for p in text.split(",")):
        bounds = [b.strip() for b in part.split("-")]
        if len(bounds) != 2:
            raise CalendarConfigError(f"working periods {text!r}: {part!r} is not HH:MM-HH:MM")
        try:
            start, end = (time.fromisoformat(b) for b in bounds)
        except ValueError as exc:
            raise CalendarConfigError(f"working periods {text!r}: {part!r} is not HH:MM-HH:MM") from exc
        periods.append((start, end))
    try:
        _check_periods(tuple(periods))
    except CalendarConfigError as exc:
        raise CalendarConfigError(f"working periods {text!r}: {exc}") from exc
    return tuple(periods)


def parse_weekdays(text: str) -> frozenset[int]:
    """``"mon-fri"``, ``"mon,tue,wed,thu,fri,sat"`` or ``"mon-fri,sat"`` -> weekday numbers (Monday 0).

    Day names are English, three letters or in full, in any case.
    """
    days: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        names = [_weekday_number(n.strip()) for n in part.split("-")]
        if len(names) > 2 or None in names:
            raise CalendarConfigError(
                f"weekdays {text!r}: {part!r} is not a day name or range (mon, tue, ..., sun; e.g. mon-fri)"
            )
        lo, hi = names[0], names[-1]
        assert lo is not None and hi is not None
        if hi < lo:
            raise CalendarConfigError(f"weekdays {text!r}: range {part!r} runs backwards")
        days.update(range(lo, hi + 1))
    return frozenset(days)


def _weekday_number(name: str) -> int | None:
    for number, short in enumerate(_WEEKDAY_NAMES):
        if name in (short, _WEEKDAY_FULL[number]):
            return number
    return None
