"""Hand-entered calendar changes: extra days off and extra working days, by date.

Each year the government announces swapped working days (làm bù) and extra days off for
civil servants; the ``holidays`` package knows only some of them.  Agencies keep them in a
TOML file (``config/calendar-overrides.toml``)::

    [[holiday]]
    date = 2026-01-02          # a TOML date, unquoted
    reason = "New Year swap: day off"

    [[working_day]]
    date = 2026-01-10
    reason = "New Year swap: Saturday worked"

Both arrays are optional.  ``date`` (a TOML local date) and ``reason`` (a non-empty string)
are required in every entry; nothing else is allowed, so that a typo is an error rather
than a silently ignored day.  A date may appear only once in the whole file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = ["CalendarConfigError", "CalendarOverrides"]

_KINDS = ("holiday", "working_day")


class CalendarConfigError(ValueError):
    """A calendar setting or overrides file is wrong; the message says where and why."""


@dataclass(frozen=True)
class CalendarOverrides:
    """Dates that are days off (``holidays``) or working days (``working_days``), with reasons.

    Overrides win over everything else the calendar knows (weekdays, public holidays,
    swapped Saturdays).  A date cannot be both.
    """

    holidays: Mapping[date, str] = field(default_factory=dict)
    working_days: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        both = sorted(set(self.holidays) & set(self.working_days))
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise CalendarConfigError(f"calendar overrides: dates both holiday and working day: {listed}")
        object.__setattr__(self, "holidays", MappingProxyType(dict(self.holidays)))
        object.__setattr__(self, "working_days", MappingProxyType(dict(self.working_days)))

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.holidays.items())), tuple(sorted(self.working_days.items()))))

    def is_holiday(self, d: date) -> bool:
        return d in self.holidays

    def is_working_day(self, d: date) -> bool:
        return d in self.working_days

    @classmethod
    def from_toml(cls, path: str | Path) -> CalendarOverrides:
        """Read an overrides file; any problem raises ``CalendarConfigError`` naming file and entry."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise CalendarConfigError(f"{path}: cannot read calendar overrides: {why}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise CalendarConfigError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "calendar overrides") -> CalendarOverrides:
        """Build from already-parsed TOML (``{"holiday": [...], "working_day": [...]}``)."""
        unknown = sorted(set(data) - set(_KINDS))
        if unknown:
            raise CalendarConfigError(
                f"{source}: unknown key(s) {', '.join(unknown)}; expected [[holiday]] and [[working_day]]"
            )
        seen: dict[date, str] = {}
        found: dict[str, dict[date, str]] = {kind: {} for kind in _KINDS}
        for kind in _KINDS:
            entries = data.get(kind, [])
            if not isinstance(entries, list):
                raise CalendarConfigError(f"{source}: '{kind}' must be an array of tables ([[{kind}]])")
            for number, entry in enumerate(entries, start=1):
                where = f"{source}: [[{kind}]] entry #{number}"
                day, reason = _parse_entry(entry, where)
                if day in seen:
                    raise CalendarConfigError(
                        f"{where}: date {day.isoformat()} is already listed as {seen[day]}"
                    )
                seen[day] = kind
                found[kind][day] = reason
        return cls(holidays=found["holiday"], working_days=found["working_day"])


def _parse_entry(entry: object, where: str) -> tuple[date, str]:
    if not isinstance(entry, dict):
        raise CalendarConfigError(f"{where}: must be a table with 'date' and 'reason'")
    extra = sorted(set(entry) - {"date", "reason"})
    if extra:
        raise CalendarConfigError(f"{where}: unknown key(s) {', '.join(extra)}; allowed: date, reason")
    if "date" not in entry:
        raise CalendarConfigError(f"{where}: missing 'date'")
    day = entry["date"]
    if isinstance(day, datetime) or not isinstance(day, date):
        raise CalendarConfigError(
            f"{where}: 'date' must be a TOML date such as 2026-01-02 (unquoted, no time), got {day!r}"
        )
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise CalendarConfigError(f"{where} (date {day.isoformat()}): 'reason' must be a non-empty string")
    return day, reason.strip()
