"""The watch use case: raise what fell due for every open clock, a case per transaction.

Run by ``eiso watch`` and the worker through ``CaseService.watch``; the cases it reads and
writes go through the same cache and store as the events'.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError, OperationalError

from engine.application.outcomes import Outcome
from engine.application.ports import CaseStore, Clock, Procedures
from engine.core.calendar import Calendar
from engine.core.nonconformities import Nonconformity, step_key
from engine.core.states import EventOutcome
from engine.store.cases import WATCH_TICK, LiveCase, StaleCase
from engine.store.writes import Writes

# Read in batches, earliest due first (``engine.store.case_store.DUE_STEPS``).
WATCH_BATCH = 1000
# A pass at ``at`` raises what fell due strictly before ``at``: wake just after the due instant.
WAKE_AFTER_DUE = timedelta(milliseconds=5)
log = logging.getLogger("eiso.service")


@dataclass
class WatchResult:
    at: datetime
    cases: int = 0
    nonconformities: list[Nonconformity] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (case id, reason): skipped, tried next pass


class Watched(Protocol):
    """What the watcher shares with the ingest use case (``CaseService``): store, cache and observers."""

    store: CaseStore
    catalog: Procedures
    calendar: Calendar
    clock: Clock
    snapshot_every: int
    watch_batch: int

    @property
    def with_messages(self) -> bool: ...

    def cached(self, case_id: str) -> LiveCase | None: ...

    def follow_agency(self, live: LiveCase, at: datetime) -> bool: ...

    def remember(self, live: LiveCase) -> None: ...

    def forget(self, case_id: str) -> None: ...

    def notify(self, outcomes: list[Outcome]) -> None: ...


def watch(cases: Watched, at: datetime) -> WatchResult:
    """Raise what is overdue as of ``at`` for every open clock."""
    result = WatchResult(at=at)
    done: set[str] = set()
    while True:
        due, more = cases.store.due_cases(at, cases.watch_batch)
        batch = [case_id for case_id in due if case_id not in done]
        for case_id in batch:
            done.add(case_id)
            try:
                records = watch_case(cases, case_id, at)
            except OperationalError:
                raise  # the database, not this case: the caller retries the pass
            except Exception as err:  # one case's fault must not stop the watch of the others
                # Reported by the caller from ``result.failed``; the traceback only for debugging.
                log.debug("watch: case %r skipped this pass", case_id, exc_info=True)
                result.failed.append((case_id, f"{type(err).__name__}: {err}"))
                continue
            result.cases += 1
            result.nonconformities.extend(records)
        if not more or not batch:  # the last batch, or one that stays due whatever is done to it
            return result


def watch_case(cases: Watched, case_id: str, at: datetime, attempts: int = 3) -> list[Nonconformity]:
    """Raise what is overdue as of ``at`` for one case (a watcher pass over that case alone).

    A worker may apply an event to the case meanwhile: the tick is then read again and retried.
    """
    for attempt in range(attempts):
        try:
            records = _tick(cases, case_id, at)
            break
        except (StaleCase, IntegrityError):
            cases.forget(case_id)
            if attempt == attempts - 1:
                raise
    if records:
        cases.notify([Outcome(EventOutcome.APPLIED, None, case_id, "raised by the watcher",
                              nonconformities=tuple(records), event_type=WATCH_TICK, agency=records[0].agency,
                              procedure=records[0].procedure)])
    return records


def _tick(cases: Watched, case_id: str, at: datetime) -> list[Nonconformity]:
    live = cases.cached(case_id)
    with cases.store.transaction() as tx:
        if live is None:
            live = tx.load_case(case_id, cases.catalog, cases.calendar)
        if live is None:
            return []
        moved = cases.follow_agency(live, at)  # an agency code closed meanwhile: rows follow its successor
        applied = live.handler.tick(at)
        flagged = _flagged_running_steps(live)
        if not applied.nonconformities:
            if flagged:  # raised earlier but the rows never said so: flag them, or every pass comes back
                tx.flag_steps(case_id, flagged)
            cases.remember(live)
            return []
        for seq in flagged:  # the step rows are written again, with their flag
            live.written_steps.pop(seq, None)
        writes = Writes(now=cases.clock.now())
        index = writes.journal_row(event_id=f"watch:{case_id}:{at.isoformat()}", case_id=case_id,
                                   type_=WATCH_TICK, occurred_at=at, payload={"at": at.isoformat()}, notes=[])
        writes.case(live, index, cases.snapshot_every)
        if moved:
            writes.nonconformity_records(list(live.case.nonconformities.values()), with_messages=False)
        writes.nonconformity_records(list(applied.nonconformities.values()), with_messages=cases.with_messages)
        tx.flush(writes)
    cases.remember(live)
    return list(applied.nonconformities.values())


def _flagged_running_steps(live: LiveCase) -> list[int]:
    """Running steps whose overdue nonconformity the case holds (the key ``step_rows`` flags them by).

    The step rows are written when a step's own state changes; raising its overdue nonconformity
    does not change it, so the watcher makes sure the row says so.
    """
    case = live.case
    return [run.seq for run in case.steps
            if run.clock is not None and run.clock.running and run.active
            and step_key(case.case_id, run.seq) in case.nonconformities]


def pause_until(now: datetime, next_due: datetime | None, interval: float) -> float:
    """Seconds from ``now`` until just after ``next_due``, between 0 and ``interval``."""
    if next_due is None:
        return interval
    return min(interval, max(0.0, (next_due + WAKE_AFTER_DUE - now).total_seconds()))


__all__ = ["WAKE_AFTER_DUE", "WATCH_BATCH", "WatchResult", "pause_until", "watch", "watch_case"]
