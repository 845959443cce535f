"""Form 04 (apology and new appointment): when one is due, and whether it came in time.

The rule has one home: the engine's missing-apology check (``engine.core.handling``) and the
Form 04 slip (``engine.application.apology``) both ask it. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from engine.core.calendar import Calendar
from engine.core.states import Timeliness


class ApologySituation(str, Enum):
    late = "late"
    overdue = "overdue"
    at_risk = "at_risk"
    extended = "extended"


def working_day(calendar: Calendar) -> int:
    """The calendar's working day in seconds (8 hours by default)."""
    return calendar.day_seconds


def apology_in_time(calendar: Calendar, apology_at: datetime, due: datetime) -> bool:
    """The apology and new appointment came at least one working day before the due."""
    return calendar.between(apology_at, due) >= working_day(calendar)


@dataclass(frozen=True)
class CaseDue:
    """What the situation depends on: the case's due, its resolution and its timeliness."""

    status: str
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    timeliness: str | None
    delay_seconds: int | None


@dataclass(frozen=True)
class Apology:
    situation: ApologySituation
    delay_seconds: int | None  # working seconds late (late, overdue)
    remaining_seconds: int | None  # working seconds left before the due, while the case is open


class NoApologyDue(Exception):
    """The case is not, and is not about to be, late; the message says why."""


def apology_situation(case: CaseDue, extended: bool, now: datetime, calendar: Calendar) -> Apology:
    """Why a Form 04 is due for ``case`` as of ``now`` (``extended``: a ``case.extended`` came), in
    order: resolved late, overdue now, extended, within a working day of its due; else ``NoApologyDue``."""
    open_now = case.resolved_at is None and case.closed_at is None
    remaining = calendar.between(now, case.due_at) if open_now and case.due_at is not None else None
    if case.timeliness == Timeliness.LATE:
        return Apology(ApologySituation.late, case.delay_seconds, remaining)
    if open_now and case.due_at is not None and case.due_at < now:
        return Apology(ApologySituation.overdue, calendar.between(case.due_at, now), remaining)
    if extended:
        return Apology(ApologySituation.extended, None, remaining)
    if remaining is not None and remaining <= working_day(calendar):
        return Apology(ApologySituation.at_risk, None, remaining)
    why = (f"the case was resolved {case.timeliness.replace('_', ' ')}" if case.timeliness else
           f"{_hours(remaining)} working hours remain before the due" if remaining is not None else
           f"the case is {case.status} and has no running due")
    raise NoApologyDue(f"no apology is due: {why}")


def _hours(seconds: int) -> float:
    return round(seconds / 3600, 2)  # as the API shows working hours
