"""A completed step's working time, defined once.

From the step's activation to its completion, counted by the legal calendar (``Calendar.between``).
The store keeps it on the step row when the step completes (``case_step.worked_seconds``, written
with the row by ``engine.store.cases.step_rows``), so that the reports take medians and percentiles
in SQL; ``engine.reporting.steps`` reads it through this same function for rows written before.
"""

from __future__ import annotations

from datetime import datetime

from engine.core.calendar import Calendar

__all__ = ["worked"]


def worked(calendar: Calendar, activated_at: datetime, completed_at: datetime) -> int:
    """A completed step's working time, in seconds: from its activation to its completion."""
    return calendar.between(activated_at, completed_at)
