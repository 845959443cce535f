"""A step of a nonconformity's corrective-action cycle (ISO 9001 clause 10.2), as one transaction.

The status changes by compare-and-set on the status it was read with and on the record's
version (the caller's, else the one read at the start); the details, the audit entry and (with
Kafka) the outbox message are written with it. Any refusal leaves nothing written, and of two
concurrent commands at most one succeeds. The cycle itself is ``engine.core.corrective``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from engine.application.actor import Actor
from engine.application.ports import Clock
from engine.core.calendar import Calendar
from engine.core.corrective import Command, TransitionRefused, next_status
from engine.store.tables_api import CorrectiveAction

__all__ = [
    "ACTION_FIELDS",
    "ActionDueInPast",
    "Actor",
    "ChangedMeanwhile",
    "Command",
    "CorrectiveRecords",
    "NonconformityNotFound",
    "StaleVersion",
    "TransitionRefused",
    "Transitioned",
    "check_action_due",
    "transition",
]

ACTION_FIELDS = ("correction", "corrected_at", "cause", "cause_category", "action", "action_owner", "action_due",
                 "verification", "effective", "verified_at", "closing_note", "closed_at")


class Record(Protocol):
    """A nonconformity as the cycle needs it (``engine.store.tables.NonconformityRow``)."""

    status: str
    agency: str


class CorrectiveRecords(Protocol):
    """What one corrective-action change reads and writes (``engine.store.corrective.SqlCorrectiveRecords``)."""

    def nonconformity(self, key: str) -> Record | None: ...

    def version(self, key: str) -> int: ...

    def action(self, key: str) -> CorrectiveAction | None: ...

    def set_status(self, key: str, before: str, after: str) -> bool: ...

    def save_action(self, action: CorrectiveAction) -> None: ...

    def audit(self, *, actor: str, role: str, at: datetime, action: str, key: str, agency: str | None,
              before: dict[str, Any], after: dict[str, Any]) -> None: ...

    def publish(self, key: str, at: datetime) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class NonconformityNotFound(LookupError):
    """No such record, or one the actor does not see (the two are not told apart)."""


class StaleVersion(Exception):
    """The record changed since the version the caller read."""

    def __init__(self, version: int):
        super().__init__(f"the nonconformity changed since it was read (now version {version}); read it again")
        self.version = version


class ChangedMeanwhile(Exception):
    """Another command changed the status between the read and the write."""

    def __init__(self) -> None:
        super().__init__("the nonconformity changed meanwhile; read it again")


class ActionDueInPast(ValueError):
    """A corrective action planned with a due date already past."""


@dataclass(frozen=True)
class Transitioned:
    record: Record  # the nonconformity as written
    action: CorrectiveAction
    version: int


def check_action_due(due: date, calendar: Calendar, clock: Clock) -> None:
    """A corrective action is planned for today or later (in the calendar's zone)."""
    today = calendar.local(clock.now()).date()
    if due < today:
        raise ActionDueInPast(f"the action's due date {due.isoformat()} is in the past (today is "
                              f"{today.isoformat()})")


def transition(records: CorrectiveRecords, key: str, command: Command, changes: dict[str, Any], *, actor: Actor,
               clock: Clock, expected: int | None = None, effective: bool | None = None,
               visible: Callable[[str], bool] = lambda agency: True) -> Transitioned:
    """Apply ``command`` with its ``changes`` to the record ``key`` (``visible``: whether the actor sees
    an agency's records). Raises ``NonconformityNotFound``, ``StaleVersion``, ``TransitionRefused`` or
    ``ChangedMeanwhile``, with nothing written."""
    record = records.nonconformity(key)
    if record is None or not visible(record.agency):
        raise NonconformityNotFound(key)
    read = records.version(key)
    if expected is not None and expected != read:
        raise StaleVersion(read)
    action = records.action(key)
    before_status = record.status
    status = next_status(before_status, command, effective)
    now = clock.now()
    before = {"status": before_status, **({n: getattr(action, n) for n in ACTION_FIELDS} if action else {})}
    if not records.set_status(key, before_status, status):
        raise ChangedMeanwhile()
    # The row is locked now (PostgreSQL) or the database is (SQLite): a change committed since the
    # version was read shows here, even one that left the status as it was (cause after cause).
    now_version = records.version(key)
    if now_version != read:
        records.rollback()
        raise StaleVersion(now_version)
    if action is None:
        action = CorrectiveAction(key=key, updated_at=now, updated_by=actor.name)
    for name, value in changes.items():
        setattr(action, name, value)
    action.updated_at, action.updated_by = now, actor.name
    records.save_action(action)
    after = {"status": status, **{n: getattr(action, n) for n in ACTION_FIELDS}}
    records.audit(actor=actor.name, role=actor.role, at=now, action=f"nonconformity.{command.value}", key=key,
                  agency=record.agency, before=before, after=after)
    records.publish(key, now)
    records.commit()
    return Transitioned(record, action, records.version(key))
