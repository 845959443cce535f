"""The period of a report: [start, end), and the calendar months it touches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def months(self, zone: tzinfo) -> list[tuple[str, datetime, datetime]]:
        """(``YYYY-MM``, start, end) for each calendar month the period touches, clipped to it."""
        out: list[tuple[str, datetime, datetime]] = []
        first = self.start.astimezone(zone).date().replace(day=1)
        while True:
            following = (first + timedelta(days=32)).replace(day=1)
            lo = max(self.start, datetime.combine(first, time(), zone))
            hi = min(self.end, datetime.combine(following, time(), zone))
            if lo >= self.end:
                return out
            out.append((first.strftime("%Y-%m"), lo, hi))
            first = following


def month_of(now: datetime, zone: tzinfo) -> Period:
    """The calendar month so far: from its first instant in ``zone`` to ``now`` (the gauges' period)."""
    local = now.astimezone(zone)
    return Period(datetime.combine(local.date().replace(day=1), time(), zone), now)
