"""A stopwatch in legal working time: the case clock and each step's clock.

A clock has an allowance; it runs from a working instant, pauses (suspension, request
for supplement) keeping what it consumed, resumes with the remaining time, or restarts
from the beginning (a supplement received: the law recounts the time limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.core.calendar import Calendar


@dataclass
class WorkingClock:
    allowance: int
    consumed: int = 0
    running_since: datetime | None = None
    due_at: datetime | None = None
    stopped: bool = False

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def start(self, calendar: Calendar, at: datetime) -> None:
        """Run from ``at`` (already a working instant, or moved to the next one)."""
        since = calendar.next_working_instant(at)
        self.running_since = since
        self.due_at = calendar.add(since, max(self.allowance - self.consumed, 0))

    def restart(self, calendar: Calendar, at: datetime) -> None:
        self.consumed = 0
        self.stopped = False
        self.start(calendar, at)

    def pause(self, calendar: Calendar, at: datetime) -> None:
        if self.running_since is None:
            return
        self.consumed += calendar.between(self.running_since, at)
        self.running_since = None
        self.due_at = None

    def stop(self, calendar: Calendar, at: datetime) -> None:
        """Stop for good, keeping the last due for the record."""
        if self.running_since is not None:
            self.consumed += calendar.between(self.running_since, at)
            self.running_since = None
        self.stopped = True

    def consumed_at(self, calendar: Calendar, at: datetime) -> int:
        if self.running_since is None:
            return self.consumed
        return self.consumed + calendar.between(self.running_since, at)

    def overdue_at(self, at: datetime) -> bool:
        return self.running_since is not None and self.due_at is not None and at > self.due_at

    def projected_due(self, calendar: Calendar, at: datetime) -> datetime:
        """The due instant; for a paused clock, as if it resumed at ``at``."""
        if self.running_since is not None and self.due_at is not None:
            return self.due_at
        if self.stopped and self.due_at is not None:
            return self.due_at
        since = calendar.next_working_instant(at)
        return calendar.add(since, max(self.allowance - self.consumed, 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowance": self.allowance,
            "consumed": self.consumed,
            "running_since": _iso(self.running_since),
            "due_at": _iso(self.due_at),
            "stopped": self.stopped,
        }

    @classmethod
    def from_dict(cls, dct: dict[str, Any]) -> WorkingClock:
        return cls(
            allowance=dct["allowance"],
            consumed=dct["consumed"],
            running_since=_dt(dct.get("running_since")),
            due_at=_dt(dct.get("due_at")),
            stopped=dct.get("stopped", False),
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
