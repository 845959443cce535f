"""The application service: one event, one transaction; the same path for the CLI, HTTP and Kafka.

Events arrive as parsed ``CaseEvent``s or as raw lines. Each is journaled with the rows it
changes in one transaction; a duplicate ``event_id`` changes nothing; an event that cannot
be applied yet (unknown case, procedure not deployed) is parked with its reason and
applied when it can be; an invalid one is kept with its problems.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Integer, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.core.calendar import WorkingTimeOutOfRange
from engine.core.events import CASE_RECEIVED, CaseEvent, EventInvalid, parse_event, parse_event_line
from engine.core.handling import CaseHandler, Timing
from engine.core.nonconformities import Nonconformity
from engine.store.cases import (
    CASES,
    STEPS,
    WATCH_TICK,
    LiveCase,
    StaleCase,
    load_case,
    recorded_fingerprint,
)
from engine.store.cases import PARKED as PARKED_EVENTS
from engine.store.catalog import ProcedureCatalog
from engine.store.outbox import DeadLetter, Outbox
from engine.store.tables import RefusedEvent
from engine.store.writes import Writes

REFUSED_TABLE = RefusedEvent.__table__  # type: ignore[attr-defined]

APPLIED, DUPLICATE, PARKED, REFUSED = "applied", "duplicate", "parked", "refused"
# An event id already recorded for another event: the second is refused, never applied, and kept.
# The reason says nothing of the first event (it may be another agency's).
CONFLICT_REASON = ("event id {event_id!r} was already used for a different event; this event is refused "
                   "and kept (event id conflict): send it under an id of its own")
# Another writer (a second API process, the worker) applying to the same case at once: the event is
# applied again on the case as re-read, a bounded number of times, with a short random pause.
APPLY_ATTEMPTS = 12
RETRY_PAUSE_SECONDS = 0.005
RETRY_PAUSE_MAX_SECONDS = 0.25

# The watcher's queries: running clocks not yet flagged overdue, by due instant (indexes
# ``ix_case_step_watch`` and ``ix_cases_watch``), so a pass costs what is due, not what is open.
_STEP_WATCHED = (STEPS.c.running.is_(True), STEPS.c.overdue_flagged.is_(False))
_CASE_WATCHED = (CASES.c.clock_running.is_(True), CASES.c.overdue_flagged.is_(False))
# Read in batches, earliest due first: a bounded read that the planner costs as the small index
# scan it is (unbounded, it reckons on every step with a past due, and PostgreSQL compiles it with JIT).
WATCH_BATCH = 1000
PARKED_PAGE = 1000  # parked events read at a time when they are retried
DUE_STEPS = (select(STEPS.c.case_id).where(*_STEP_WATCHED, STEPS.c.due_at < bindparam("at"))
             .order_by(STEPS.c.due_at).limit(bindparam("batch", type_=Integer)))
DUE_CASES = (select(CASES.c.case_id).where(*_CASE_WATCHED, CASES.c.due_at < bindparam("at"))
             .order_by(CASES.c.due_at).limit(bindparam("batch", type_=Integer)))
NEXT_STEP_DUE = (select(STEPS.c.due_at).where(*_STEP_WATCHED, STEPS.c.due_at >= bindparam("after"))
                 .order_by(STEPS.c.due_at).limit(1))
NEXT_CASE_DUE = (select(CASES.c.due_at).where(*_CASE_WATCHED, CASES.c.due_at >= bindparam("after"))
                 .order_by(CASES.c.due_at).limit(1))
# A step row whose overdue nonconformity is raised: the watcher no longer selects it.
FLAG_STEPS = (STEPS.update().where(STEPS.c.case_id == bindparam("b_case_id"), STEPS.c.seq == bindparam("b_seq"),
                                   STEPS.c.overdue_flagged.is_(False)).values(overdue_flagged=True))
log = logging.getLogger("eiso.service")


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Outcome:
    """What became of one event: the answer the sending system gets."""

    status: str
    event_id: str | None
    case_id: str | None
    reason: str | None = None
    step: str | None = None
    nonconformities: tuple[Nonconformity, ...] = ()
    event_type: str | None = None
    agency: str | None = None
    procedure: str | None = None
    timings: tuple[Timing, ...] = ()
    conflict: bool = False  # refused because its event id was already used for a different event

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "event_id": self.event_id,
            "case_id": self.case_id,
            "step": self.step,
            "reason": self.reason,
            "nonconformities": [{"key": n.key, "type": n.type, "step": n.step} for n in self.nonconformities],
        }


class CaseBusy(Exception):
    """Other writers kept changing the case while this event was applied: nothing was written; send it again."""

    def __init__(self, case_id: str, event_id: str, attempts: int):
        super().__init__(f"case {case_id} is being changed by another writer; event {event_id!r} was not applied "
                         f"after {attempts} attempts: send it again")
        self.case_id = case_id
        self.event_id = event_id


@dataclass
class WatchResult:
    at: datetime
    cases: int = 0
    nonconformities: list[Nonconformity] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (case id, reason): skipped, tried next pass


class CaseService:
    def __init__(self, engine: Engine, catalog: ProcedureCatalog, calendar: Any, clock: Clock,
                 cache_size: int = 20_000, snapshot_every: int = 16, outbox: Outbox | None = None):
        self.engine = engine
        self.outbox = outbox
        self.observers: list[Callable[[Outcome], None]] = []
        self.catalog = catalog
        self.calendar = calendar
        self.clock = clock
        self.cache_size = cache_size
        self.snapshot_every = snapshot_every
        self.watch_batch = WATCH_BATCH
        self.apply_attempts = APPLY_ATTEMPTS
        self._cache: OrderedDict[str, LiveCase] = OrderedDict()

    # -- entry points ------------------------------------------------------------------
    def ingest_line(self, line: str | bytes, source: str) -> Outcome:
        try:
            event = parse_event_line(line)
        except EventInvalid as err:
            raw = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
            return self.refuse(raw, err, source)
        return self.ingest(event)

    def ingest_object(self, obj: Any, source: str) -> Outcome:
        try:
            event = parse_event(obj)
        except EventInvalid as err:
            return self.refuse(json.dumps(obj, ensure_ascii=False, default=str), err, source)
        return self.ingest(event)

    def ingest(self, event: CaseEvent) -> Outcome:
        outcome = self._apply(event)
        if outcome.status == APPLIED and event.type == CASE_RECEIVED:
            self._apply_parked(PARKED_EVENTS.c.case_id == event.case_id)
        return outcome

    def refuse(self, raw: str, err: EventInvalid, source: str, letter: DeadLetter | None = None,
               parked_id: int | None = None) -> Outcome:
        """Keep an invalid event with its problems (and, from Kafka, send it to the dead-letter topic;
        from the parked events, take it out of them in the same transaction)."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            if parked_id is not None:
                conn.execute(PARKED_EVENTS.delete().where(PARKED_EVENTS.c.id == parked_id))
            conn.execute(REFUSED_TABLE.insert(), {
                "event_id": _storable(err.event_id), "source": _storable(source)[:500],
                "raw": _storable(raw)[:100_000], "problems": _storable("; ".join(err.problems)), "refused_at": now,
            })
            if self.outbox is not None:
                if letter is not None:
                    self.outbox.dead_letter(conn, letter, str(err), now)
                self.outbox.acknowledge(conn, event_id=err.event_id, case_id=None, status=REFUSED, step=None,
                                        reason=str(err), nonconformity_keys=(), now=now)
        outcome = Outcome(REFUSED, err.event_id, None, reason=str(err))
        self._notify([outcome])
        return outcome

    def retry_parked(self, procedure: str | None = None) -> list[Outcome]:
        """Apply parked events that can be applied now (e.g. after a procedure is deployed)."""
        condition = (PARKED_EVENTS.c.procedure == procedure) if procedure else (PARKED_EVENTS.c.id > 0)
        return self._apply_parked(condition)

    def watch(self, at: datetime | None = None) -> WatchResult:
        """Raise what is overdue as of ``at`` (default now) for every open clock."""
        at = at or self.clock.now()
        result = WatchResult(at=at)
        done: set[str] = set()
        while True:
            due, more = self._due_cases(at)
            batch = [case_id for case_id in due if case_id not in done]
            for case_id in batch:
                done.add(case_id)
                try:
                    records = self.watch_case(case_id, at)
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

    def watch_case(self, case_id: str, at: datetime, attempts: int = 3) -> list[Nonconformity]:
        """Raise what is overdue as of ``at`` for one case (a watcher pass over that case alone).

        A worker may apply an event to the case meanwhile: the tick is then read again and retried.
        """
        for attempt in range(attempts):
            try:
                records = self._tick(case_id, at)
                break
            except (StaleCase, IntegrityError):
                self._cache.pop(case_id, None)
                if attempt == attempts - 1:
                    raise
        if records:
            self._notify([Outcome(APPLIED, None, case_id, "raised by the watcher",
                                  nonconformities=tuple(records), event_type=WATCH_TICK,
                                  agency=records[0].agency, procedure=records[0].procedure)])
        return records

    def next_due(self, after: datetime) -> datetime | None:
        """The earliest due at or after ``after`` of a running step or case clock not yet flagged overdue.

        Two index range scans (``ix_case_step_watch``, ``ix_cases_watch``), one row each.
        """
        with self.engine.connect() as conn:
            step = conn.execute(NEXT_STEP_DUE, {"after": after}).scalar()
            case = conn.execute(NEXT_CASE_DUE, {"after": after}).scalar()
        found = [due for due in (step, case) if due is not None]
        return min(found) if found else None

    def pause_after_watch(self, result: WatchResult, interval: float) -> float:
        """Seconds to wait before the next pass: until just after the next due, at most ``interval``."""
        return pause_until(self.clock.now(), self.next_due(result.at), interval)

    # -- applying one event --------------------------------------------------------------
    def _apply(self, event: CaseEvent, parked_id: int | None = None) -> Outcome:
        """Apply one event in its own transaction; when another writer changed the case meanwhile, read
        the case again and apply again (``CaseBusy`` after ``apply_attempts``, nothing written)."""
        attempts = self.apply_attempts
        for attempt in range(attempts):
            live = self._cache.pop(event.case_id, None)  # a failed attempt's state is dropped: re-read
            try:
                outcome, live = self._apply_in_transaction(event, live, parked_id)
            except (StaleCase, IntegrityError) as err:
                if attempt == attempts - 1:
                    raise CaseBusy(event.case_id, event.event_id, attempts) from err
                _pause_before_retry(attempt)
                continue
            except OperationalError:
                if attempt >= 2:  # a database outage, not a race: the caller's own retry handles it
                    raise
                _pause_before_retry(attempt)
                continue
            if live is not None:
                self._remember(live)
            self._notify([outcome])
            return outcome
        raise AssertionError("unreachable")

    def ingest_batch(self, events: Sequence[CaseEvent]) -> list[Outcome]:
        """Apply events in order in one transaction (group commit), each with its journal row.

        Every event is still applied atomically with the record of its id; the batch commits or
        rolls back as a whole, its rows written with one statement per table. After a conflict
        the batch is rolled back and applied again one event per transaction; a database outage
        or an engine fault propagates (the caller retries, or isolates the faulty event).
        """
        if not events:
            return []
        touched: dict[str, LiveCase] = {}
        outcomes: list[Outcome] = []
        try:
            with self.engine.begin() as conn:
                writes = Writes(now=self.clock.now())
                writes.prefetch_seen(conn, [e.event_id for e in events])
                self._prefetch_cases(conn, writes, events)
                for event in events:
                    live = touched.pop(event.case_id, None)
                    if live is None:
                        live = self._cache.pop(event.case_id, None)
                    outcome, live = self._apply_on(conn, writes, event, live, None)
                    if live is not None:
                        touched[event.case_id] = live
                    outcomes.append(outcome)
                writes.flush(conn, self.outbox)
        except (StaleCase, IntegrityError, WorkingTimeOutOfRange):  # one transaction each isolates the fault
            return [self.ingest(event) for event in events]
        for live in touched.values():
            self._remember(live)
        self._notify(outcomes)
        for event, outcome in zip(events, outcomes, strict=True):
            if outcome.status == APPLIED and event.type == CASE_RECEIVED and event.case_id in writes.waiting:
                self._apply_parked(PARKED_EVENTS.c.case_id == event.case_id)
        return outcomes

    def _prefetch_cases(self, conn: Connection, writes: Writes, events: Sequence[CaseEvent]) -> None:
        """Load the batch's cases that are not in memory together, and learn which have parked events."""
        wanted: dict[str, None] = {}
        receipts: dict[str, None] = {}
        for event in events:
            if writes.is_seen(event.event_id):
                continue
            if event.case_id not in self._cache:
                wanted[event.case_id] = None
            if event.type == CASE_RECEIVED:
                receipts[event.case_id] = None
        writes.prefetch_cases(conn, list(wanted), list(receipts), self.catalog, self.calendar)

    def _apply_in_transaction(self, event: CaseEvent, live: LiveCase | None, parked_id: int | None
                              ) -> tuple[Outcome, LiveCase | None]:
        try:
            with self.engine.begin() as conn:
                writes = Writes(now=self.clock.now())
                result = self._apply_on(conn, writes, event, live, parked_id)
                writes.flush(conn, self.outbox)
        except WorkingTimeOutOfRange as err:
            # a clock the calendar cannot count (a version deployed before durations were bounded): the
            # half-applied case is dropped (rolled back, not cached) and the event kept as refused
            with self.engine.begin() as conn:
                writes = Writes(now=self.clock.now())
                outcome = self._refuse_on(conn, writes, event, f"cannot be applied: {err}", "case check", parked_id)
                writes.flush(conn, self.outbox)
            return outcome, None
        return result

    def _apply_on(self, conn: Connection, writes: Writes, event: CaseEvent, live: LiveCase | None,
                  parked_id: int | None) -> tuple[Outcome, LiveCase | None]:
        now = writes.now
        known, recorded = writes.recorded(event.event_id)
        if not known and writes.asks_database():
            prior = recorded_fingerprint(conn, event.event_id, include_parked=parked_id is None)
            recorded = prior.fingerprint if prior is not None else None
            known = prior is not None
        if known:
            if recorded is not None and recorded == event.fingerprint():
                return Outcome(DUPLICATE, event.event_id, event.case_id, "event already received",
                               **_about(event)), live
            reason = CONFLICT_REASON.format(event_id=event.event_id)
            return self._refuse_on(conn, writes, event, reason, "event id conflict", parked_id, conflict=True), live
        if live is None:
            known, live = writes.prefetched_case(event.case_id)
            if not known:
                live = load_case(conn, event.case_id, self.catalog, self.calendar)
        if live is not None:
            refusal = live.handler.refusal(event)
            if refusal is not None:
                return self._refuse_on(conn, writes, event, refusal, "case check", parked_id), live
        if live is None:
            found = None if event.type != CASE_RECEIVED else self.catalog.in_force(event.procedure,
                                                                                    event.occurred_at, event.agency)
            if found is None:
                reason = (f"case {event.case_id} has not been received" if event.type != CASE_RECEIVED
                          else f"procedure {event.procedure} is not deployed")
                self._park(conn, event, reason, now, parked_id)
                writes.seen[event.event_id] = event.fingerprint()
                writes.waiting.add(event.case_id)
                if self.outbox is not None and parked_id is None:
                    writes.acks.append(self.outbox.ack_row(
                        event_id=event.event_id, case_id=event.case_id, status=PARKED, step=event.step,
                        reason=reason, nonconformity_keys=(), now=now))
                return Outcome(PARKED, event.event_id, event.case_id, reason, event.step, **_about(event)), None
            version, procedure = found
            handler, applied = CaseHandler.receive(event, procedure, version, self.calendar)
            live = LiveCase(handler, event_count=0, since_snapshot=0, is_new=True)
        else:
            applied = live.handler.apply(event)
        index = writes.journal_row(event_id=event.event_id, case_id=event.case_id, type_=event.type,
                                   occurred_at=event.occurred_at, payload=event.to_dict(), notes=applied.notes,
                                   fingerprint=event.fingerprint())
        writes.case(live, index, self.snapshot_every)
        writes.nonconformity_records(list(applied.nonconformities.values()), with_messages=self.outbox is not None)
        if self.outbox is not None:
            writes.acks.append(self.outbox.ack_row(
                event_id=event.event_id, case_id=event.case_id, status=APPLIED, step=event.step,
                reason="; ".join(applied.notes) or None, nonconformity_keys=list(applied.nonconformities), now=now))
        if parked_id is not None:
            writes.parked_deletes.append(parked_id)
        outcome = Outcome(APPLIED, event.event_id, event.case_id, "; ".join(applied.notes) or None,
                          applied.step, tuple(applied.nonconformities.values()), timings=tuple(applied.timings),
                          **_about(event))
        return outcome, live

    def _refuse_on(self, conn: Connection, writes: Writes, event: CaseEvent, reason: str, source: str,
                   parked_id: int | None, conflict: bool = False) -> Outcome:
        """Keep a well-formed event that cannot be applied (with its reason), in the transaction in hand."""
        conn.execute(REFUSED_TABLE.insert(), {"event_id": event.event_id, "source": source,
                                              "raw": _storable(json.dumps(event.to_dict(), ensure_ascii=False)),
                                              "problems": _storable(reason), "refused_at": writes.now})
        if self.outbox is not None:
            writes.acks.append(self.outbox.ack_row(event_id=event.event_id, case_id=event.case_id, status=REFUSED,
                                                   step=event.step, reason=reason, nonconformity_keys=(),
                                                   now=writes.now))
        if parked_id is not None:  # refused when its case arrived: it no longer waits
            writes.parked_deletes.append(parked_id)
        return Outcome(REFUSED, event.event_id, event.case_id, reason, event.step, conflict=conflict,
                       **_about(event))

    def _park(self, conn: Connection, event: CaseEvent, reason: str, now: datetime, parked_id: int | None) -> None:
        if parked_id is not None:
            conn.execute(PARKED_EVENTS.update().where(PARKED_EVENTS.c.id == parked_id).values(reason=reason))
            return
        conn.execute(PARKED_EVENTS.insert(), {"event_id": event.event_id, "case_id": event.case_id,
                                       "procedure": event.procedure, "reason": reason,
                                       "payload": event.to_dict(), "parked_at": now})

    def _apply_parked(self, condition: Any) -> list[Outcome]:
        """Apply the parked events matching ``condition``, a page at a time (memory stays bounded
        however many are parked), receipts first within a page; a receipt applied brings its case's
        other parked events with it, wherever they are."""
        outcomes: list[Outcome] = []
        last = 0
        while True:
            with self.engine.connect() as conn:
                page = [(p.id, p.payload) for p in conn.execute(
                    select(PARKED_EVENTS.c.id, PARKED_EVENTS.c.payload)
                    .where(condition, PARKED_EVENTS.c.id > last).order_by(PARKED_EVENTS.c.id).limit(PARKED_PAGE)
                ).all()]
            if not page:
                return outcomes
            last = page[-1][0]
            for parked_id, payload in sorted(page, key=lambda item: item[1].get("type") != CASE_RECEIVED):
                assert parked_id is not None
                try:
                    outcome = self._apply(parse_event(payload), parked_id=parked_id)
                except EventInvalid as err:  # parked under older rules that it no longer meets
                    outcome = self._refuse_parked(parked_id, payload, err)
                except CaseBusy as err:  # stays parked; ``eiso events retry`` or the next receipt applies it
                    log.warning("parked event %s left parked: %s", parked_id, err)
                    continue
                outcomes.append(outcome)
                if outcome.status == APPLIED and payload.get("type") == CASE_RECEIVED:
                    outcomes.extend(self._apply_parked(PARKED_EVENTS.c.case_id == payload["case_id"]))

    def _refuse_parked(self, parked_id: int, payload: Any, err: EventInvalid) -> Outcome:
        return self.refuse(json.dumps(payload, ensure_ascii=False, default=str), err, "parked", parked_id=parked_id)

    # -- the watcher ----------------------------------------------------------------------
    def _due_cases(self, at: datetime) -> tuple[list[str], bool]:
        """Cases with a clock due before ``at`` (a batch), and whether more may follow."""
        with self.engine.connect() as conn:
            steps = conn.execute(DUE_STEPS, {"at": at, "batch": self.watch_batch}).scalars().all()
            cases = conn.execute(DUE_CASES, {"at": at, "batch": self.watch_batch}).scalars().all()
        return sorted(set(steps) | set(cases)), self.watch_batch in (len(steps), len(cases))

    def _tick(self, case_id: str, at: datetime) -> list[Nonconformity]:
        live = self._cache.pop(case_id, None)
        with self.engine.begin() as conn:
            if live is None:
                live = load_case(conn, case_id, self.catalog, self.calendar)
            if live is None:
                return []
            applied = live.handler.tick(at)
            flagged = _flagged_running_steps(live)
            if not applied.nonconformities:
                if flagged:  # raised earlier but the rows never said so: flag them, or every pass comes back
                    conn.execute(FLAG_STEPS, [{"b_case_id": case_id, "b_seq": seq} for seq in flagged])
                self._remember(live)
                return []
            for seq in flagged:  # the step rows are written again, with their flag
                live.written_steps.pop(seq, None)
            writes = Writes(now=self.clock.now())
            index = writes.journal_row(event_id=f"watch:{case_id}:{at.isoformat()}", case_id=case_id,
                                       type_=WATCH_TICK, occurred_at=at, payload={"at": at.isoformat()}, notes=[])
            writes.case(live, index, self.snapshot_every)
            writes.nonconformity_records(list(applied.nonconformities.values()),
                                         with_messages=self.outbox is not None)
            writes.flush(conn, self.outbox)
        self._remember(live)
        return list(applied.nonconformities.values())

    def _notify(self, outcomes: list[Outcome]) -> None:
        """Tell the observers (metrics) what was committed; an observer's fault never fails an event."""
        for observer in self.observers:
            for outcome in outcomes:
                try:
                    observer(outcome)
                except Exception:  # measurement must not break the engine; say so and go on
                    log.exception("observer %r failed on the outcome of %s", observer, outcome.event_id)

    # -- cache ----------------------------------------------------------------------------
    def _remember(self, live: LiveCase) -> None:
        self._cache[live.case.case_id] = live
        self._cache.move_to_end(live.case.case_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def forget_cache(self) -> None:
        self._cache.clear()


def _flagged_running_steps(live: LiveCase) -> list[int]:
    """Running steps whose overdue nonconformity the case holds (the key ``step_rows`` flags them by).

    The step rows are written when a step's own state changes; raising its overdue nonconformity
    does not change it, so the watcher makes sure the row says so.
    """
    case = live.case
    return [run.seq for run in case.steps
            if run.clock is not None and run.clock.running and run.active
            and f"{case.case_id}:step_timeliness:{run.seq}" in case.nonconformities]


# A pass at ``at`` raises what fell due strictly before ``at``: wake just after the due instant.
WAKE_AFTER_DUE = timedelta(milliseconds=5)


def pause_until(now: datetime, next_due: datetime | None, interval: float) -> float:
    """Seconds from ``now`` until just after ``next_due``, between 0 and ``interval``."""
    if next_due is None:
        return interval
    return min(interval, max(0.0, (next_due + WAKE_AFTER_DUE - now).total_seconds()))


def _storable(text: str | None) -> Any:
    """Text any database keeps: NUL and unpaired surrogates escaped (the refused input is shown, not run)."""
    if text is None:
        return None
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _pause_before_retry(attempt: int) -> None:
    """A short random pause, growing with the attempts, so that racing writers fall out of step."""
    ceiling = min(RETRY_PAUSE_MAX_SECONDS, RETRY_PAUSE_SECONDS * (2 ** attempt))
    time.sleep(random.uniform(0, ceiling))  # jitter, not cryptography


def _about(event: CaseEvent) -> dict[str, Any]:
    return {"event_type": event.type, "agency": event.agency, "procedure": event.procedure}


def ingest_lines(service: CaseService, lines: Iterable[str], source: str) -> Iterable[Outcome]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield service.ingest_line(line, f"{source}:{number}")
