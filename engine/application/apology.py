"""The Form 04 slip (apology and new appointment) of a case that is or will be late.

The situation and the "in time" rule are the core's (``engine.core.apology``); this reads the
case and its first ``case.extended`` and puts the slip together, for the API and the console.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from engine.core.apology import Apology, ApologySituation, CaseDue, NoApologyDue, apology_in_time, apology_situation
from engine.core.calendar import Calendar

__all__ = ["ApologySituation", "ApologySlip", "CaseNotFound", "NoApologyDue", "apology_slip"]


class ApologyReads(Protocol):
    """``engine.store.apology.SqlApologyReads``."""

    def case(self, case_id: str) -> Any: ...

    def first_extension(self, case_id: str) -> Any: ...

    def procedure_name(self, code: str, scope: str, version: int) -> str | None: ...


class CaseNotFound(LookupError):
    """No such case, or one the reader does not see (the two are not told apart)."""


@dataclass(frozen=True)
class ApologySlip:
    """The data of Form 04 (instants in UTC; the adapter shows them in the calendar's zone)."""

    case: Any  # the case row
    procedure_name: str | None
    apology: Apology
    original_appointment: datetime | None  # the receipt's promised date, else the statutory due
    reason: str | None  # given with case.extended
    new_appointment: datetime | None
    apology_at: datetime | None
    apology_in_time: bool | None


def apology_slip(reads: ApologyReads, case_id: str, calendar: Calendar, now: datetime,
                 visible: Callable[[str], bool] = lambda agency: True) -> ApologySlip:
    """The slip as of ``now``; ``CaseNotFound``, or ``NoApologyDue`` when the case is not (about to be) late."""
    row = reads.case(case_id)
    if row is None or not visible(row.agency):
        raise CaseNotFound(case_id)
    extension = reads.first_extension(case_id)
    due = CaseDue(status=row.status, due_at=row.due_at, resolved_at=row.resolved_at, closed_at=row.closed_at,
                  timeliness=row.timeliness, delay_seconds=row.delay_seconds)
    apology = apology_situation(due, extension is not None, now, calendar)
    payload = extension.payload if extension is not None and isinstance(extension.payload, dict) else {}
    new_due = payload.get("due_at")
    apology_at = extension.occurred_at if extension is not None else None
    in_time = (apology_in_time(calendar, apology_at, row.due_at)
               if apology_at is not None and row.due_at is not None else None)
    return ApologySlip(
        case=row, procedure_name=reads.procedure_name(row.procedure, row.procedure_scope, row.procedure_version),
        apology=apology, original_appointment=row.promised_at or row.due_at, reason=payload.get("reason"),
        new_appointment=datetime.fromisoformat(new_due) if isinstance(new_due, str) else None,
        apology_at=apology_at, apology_in_time=in_time)
