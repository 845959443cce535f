"""What the use cases need from storage and from the procedure catalog, as protocols.

The SQL store (``engine.store.case_store``) and the fake one of the unit tests
(``tests/unit/fake_store.py``) both provide them, as cosmicpython's unit of work does.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from engine.core.calendar import Calendar
from engine.core.clock import Clock
from engine.core.events import CaseEvent
from engine.core.procedure import LoadedProcedure
from engine.store.case_store import ParkedFilter
from engine.store.cases import LiveCase, Recorded
from engine.store.outbox import DeadLetter
from engine.store.writes import Writes

__all__ = ["CaseStore", "CaseTransaction", "Clock", "ParkedFilter", "Procedures"]


class Procedures(Protocol):
    """The versions cases follow (``engine.store.catalog.ProcedureCatalog``)."""

    def in_force(self, code: str, at: datetime, agency: str | None = None) -> tuple[int, LoadedProcedure] | None: ...

    def get(self, code: str, version: int, scope: str = ...) -> LoadedProcedure: ...


class CaseTransaction(Protocol):
    """One transaction of the ingest and watch use cases: what it reads, and the rows it writes."""

    def recorded(self, event_id: str, include_parked: bool) -> Recorded | None:
        """What was recorded under ``event_id`` (journal, and parked unless told not to); None: a new id."""

    def load_case(self, case_id: str, catalog: Procedures, calendar: Calendar) -> LiveCase | None:
        """The case rebuilt from its snapshot and journal; None when it has not been received."""

    def prefetch_seen(self, writes: Writes, event_ids: list[str]) -> None:
        """A batch's ids already recorded (journal and parked), with their fingerprints, into ``writes``."""

    def prefetch_cases(self, writes: Writes, case_ids: list[str], receipts: list[str], catalog: Procedures,
                       calendar: Calendar) -> None:
        """A batch's cases not in memory, loaded together, and which ``receipts`` have parked events."""

    def park(self, event: CaseEvent, reason: str, now: datetime) -> None: ...

    def repark(self, parked_id: int, reason: str) -> None:
        """A parked event that still cannot be applied: its reason, updated."""

    def unpark(self, parked_id: int) -> None: ...

    def keep_refused(self, row: dict[str, Any]) -> None:
        """Keep an event that is refused, with its problems (``event_id, source, raw, problems, refused_at``)."""

    def dead_letter(self, letter: DeadLetter, reason: str, now: datetime) -> None: ...

    def acknowledge(self, ack: dict[str, Any]) -> None:
        """An outbox row (``Outbox.ack_row``) saying what became of an event."""

    def flag_steps(self, case_id: str, seqs: list[int]) -> None:
        """Step rows whose overdue nonconformity is raised: the watcher selects them no more."""

    def flush(self, writes: Writes) -> None:
        """Write the staged rows; ``StaleCase`` when another writer changed one of the cases meanwhile."""


class CaseStore(Protocol):
    """Transactions, and the reads done outside one (the watcher's, the parked events')."""

    def transaction(self) -> AbstractContextManager[CaseTransaction]:
        """Commits when the block ends, rolls back when it raises."""

    def due_cases(self, at: datetime, batch: int) -> tuple[list[str], bool]:
        """Cases with a running clock not yet flagged overdue and due before ``at`` (at most ``batch`` by
        kind, earliest due first), and whether more may follow."""

    def next_due(self, after: datetime) -> datetime | None:
        """The earliest due at or after ``after`` of such a clock."""

    def parked_page(self, which: ParkedFilter, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Parked events (id, payload) with an id above ``after_id``, in id order."""
