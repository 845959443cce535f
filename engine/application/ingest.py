"""The ingest use case: one event, one transaction; the same path for the CLI, HTTP and Kafka.

Events arrive as parsed ``CaseEvent``s or as raw lines. Each is journaled with the rows it
changes in one transaction; a duplicate ``event_id`` changes nothing; an event that cannot
be applied yet (unknown case, procedure not deployed) is parked with its reason and
applied when it can be; an invalid one is kept with its problems. What is read and written
goes through a ``CaseStore`` (``engine.application.ports``): the database's, or a fake one.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.application import watch as watching
from engine.application.agency_codes import AgencyCodes, as_applied, follow, journal_payload
from engine.application.outcomes import CONFLICT_REASON, CaseBusy, Outcome
from engine.application.ports import CaseStore, CaseTransaction, Clock, Procedures
from engine.core.calendar import Calendar, WorkingTimeOutOfRange
from engine.core.events import CASE_RECEIVED, CaseEvent, EventInvalid, parse_event, parse_event_line
from engine.core.handling import CaseHandler
from engine.core.states import EventOutcome
from engine.store.agencies import load_history
from engine.store.case_store import ParkedFilter, SqlCaseStore
from engine.store.cases import LiveCase, StaleCase
from engine.store.outbox import DeadLetter, Outbox
from engine.store.writes import Writes

# Another writer (a second API process, the worker) applying to the same case at once: the event is
# applied again on the case as re-read, a bounded number of times, with a short random pause.
APPLY_ATTEMPTS = 12
RETRY_PAUSE_SECONDS = 0.005
RETRY_PAUSE_MAX_SECONDS = 0.25
PARKED_PAGE = 1000  # parked events read at a time when they are retried
log = logging.getLogger("eiso.service")


class CaseService:
    """Ingest (and, through ``engine.application.watch``, the watcher) over one store and one case cache.

    ``store`` defaults to the database's (``engine``); the unit tests give a fake one.
    """

    def __init__(self, engine: Engine | None, catalog: Procedures, calendar: Calendar, clock: Clock,
                 cache_size: int = 20_000, snapshot_every: int = 16, outbox: Outbox | None = None,
                 store: CaseStore | None = None, agency_codes: AgencyCodes | None = None):
        if store is None:
            if engine is None:
                raise ValueError("a CaseService needs a database engine or a store")
            store = SqlCaseStore(engine, outbox)
        self.engine = engine
        self.store = store
        self.outbox = outbox
        self.observers: list[Callable[[Outcome], None]] = []
        self.catalog = catalog
        self.calendar = calendar
        self.clock = clock
        self.cache_size = cache_size
        self.snapshot_every = snapshot_every
        self.watch_batch = watching.WATCH_BATCH
        self.apply_attempts = APPLY_ATTEMPTS
        self.parked_page = PARKED_PAGE
        self._cache: OrderedDict[str, LiveCase] = OrderedDict()
        # The agency code history (engine.application.agency_codes): the store's, or none without a database.
        self.agency_codes = agency_codes or AgencyCodes((lambda: load_history(engine)) if engine is not None else None)

    @property
    def with_messages(self) -> bool:
        """Whether nonconformity messages go to the outbox with their rows."""
        return self.outbox is not None

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
        if outcome.status == EventOutcome.APPLIED and event.type == CASE_RECEIVED:
            self._apply_parked(ParkedFilter(case_id=event.case_id))
        return outcome

    def refuse(self, raw: str, err: EventInvalid, source: str, letter: DeadLetter | None = None,
               parked_id: int | None = None) -> Outcome:
        """Keep an invalid event with its problems (and, from Kafka, send it to the dead-letter topic;
        from the parked events, take it out of them in the same transaction)."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            if parked_id is not None:
                tx.unpark(parked_id)
            tx.keep_refused({
                "event_id": _storable(err.event_id), "source": _storable(source)[:500],
                "raw": _storable(raw)[:100_000], "problems": _storable("; ".join(err.problems)), "refused_at": now,
            })
            if self.outbox is not None:
                if letter is not None:
                    tx.dead_letter(letter, str(err), now)
                tx.acknowledge(self.outbox.ack_row(event_id=err.event_id, case_id=None, status=EventOutcome.REFUSED,
                                                   step=None, reason=str(err), nonconformity_keys=(), now=now))
        outcome = Outcome(EventOutcome.REFUSED, err.event_id, None, reason=str(err))
        self.notify([outcome])
        return outcome

    def retry_parked(self, procedure: str | None = None) -> list[Outcome]:
        """Apply parked events that can be applied now (e.g. after a procedure is deployed)."""
        return self._apply_parked(ParkedFilter(procedure=procedure or None))

    def watch(self, at: datetime | None = None) -> watching.WatchResult:
        """Raise what is overdue as of ``at`` (default now) for every open clock."""
        return watching.watch(self, at or self.clock.now())

    def watch_case(self, case_id: str, at: datetime, attempts: int = 3) -> list[Any]:
        """Raise what is overdue as of ``at`` for one case (a watcher pass over that case alone)."""
        return watching.watch_case(self, case_id, at, attempts)

    def next_due(self, after: datetime) -> datetime | None:
        """The earliest due at or after ``after`` of a running step or case clock not yet flagged overdue."""
        return self.store.next_due(after)

    def pause_after_watch(self, result: watching.WatchResult, interval: float) -> float:
        """Seconds to wait before the next pass: until just after the next due, at most ``interval``."""
        return watching.pause_until(self.clock.now(), self.next_due(result.at), interval)

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
                self.remember(live)
            self.notify([outcome])
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
            with self.store.transaction() as tx:
                writes = Writes(now=self.clock.now())
                self._prefetch(tx, writes, events)
                for event in events:
                    live = touched.pop(event.case_id, None)
                    if live is None:
                        live = self._cache.pop(event.case_id, None)
                    outcome, live = self._apply_on(tx, writes, event, live, None)
                    if live is not None:
                        touched[event.case_id] = live
                    outcomes.append(outcome)
                tx.flush(writes)
        except (StaleCase, IntegrityError, WorkingTimeOutOfRange):  # one transaction each isolates the fault
            return [self.ingest(event) for event in events]
        for live in touched.values():
            self.remember(live)
        self.notify(outcomes)
        for event, outcome in zip(events, outcomes, strict=True):
            if (outcome.status == EventOutcome.APPLIED and event.type == CASE_RECEIVED
                    and event.case_id in writes.waiting):
                self._apply_parked(ParkedFilter(case_id=event.case_id))
        return outcomes

    def _prefetch(self, tx: CaseTransaction, writes: Writes, events: Sequence[CaseEvent]) -> None:
        """Read the batch's recorded ids, its cases not in memory together, and which have parked events."""
        tx.prefetch_seen(writes, [e.event_id for e in events])
        wanted: dict[str, None] = {}
        receipts: dict[str, None] = {}
        for event in events:
            if writes.is_seen(event.event_id):
                continue
            if event.case_id not in self._cache:
                wanted[event.case_id] = None
            if event.type == CASE_RECEIVED:
                receipts[event.case_id] = None
        tx.prefetch_cases(writes, list(wanted), list(receipts), self.catalog, self.calendar)

    def _apply_in_transaction(self, event: CaseEvent, live: LiveCase | None, parked_id: int | None
                              ) -> tuple[Outcome, LiveCase | None]:
        try:
            with self.store.transaction() as tx:
                writes = Writes(now=self.clock.now())
                result = self._apply_on(tx, writes, event, live, parked_id)
                tx.flush(writes)
        except WorkingTimeOutOfRange as err:
            # a clock the calendar cannot count (a version deployed before durations were bounded): the
            # half-applied case is dropped (rolled back, not cached) and the event kept as refused
            with self.store.transaction() as tx:
                writes = Writes(now=self.clock.now())
                outcome = self._refuse_on(tx, writes, event, f"cannot be applied: {err}", "case check", parked_id)
                tx.flush(writes)
            return outcome, None
        return result

    def _apply_on(self, tx: CaseTransaction, writes: Writes, sent: CaseEvent, live: LiveCase | None,
                  parked_id: int | None) -> tuple[Outcome, LiveCase | None]:
        """Apply ``sent`` (the event as sent) under the agency code standing for its own when it occurred
        (``engine.application.agency_codes``); duplicates, parking and refusals keep it as sent."""
        now = writes.now
        event = sent
        known, recorded = writes.recorded(event.event_id)
        if not known and writes.asks_database():
            prior = tx.recorded(event.event_id, include_parked=parked_id is None)
            recorded = prior.fingerprint if prior is not None else None
            known = prior is not None
        if known:
            if recorded is not None and recorded == event.fingerprint():
                return Outcome(EventOutcome.DUPLICATE, event.event_id, event.case_id, "event already received",
                               **_about(event)), live
            reason = CONFLICT_REASON.format(event_id=event.event_id)
            return self._refuse_on(tx, writes, event, reason, "event id conflict", parked_id, conflict=True), live
        if live is None:
            known, live = writes.prefetched_case(event.case_id)
            if not known:
                live = tx.load_case(event.case_id, self.catalog, self.calendar)
        moved, event = self._under_current_code(sent, live)
        if live is not None:
            refusal = live.handler.refusal(event)
            if refusal is not None:
                return self._refuse_on(tx, writes, sent, refusal, "case check", parked_id), live
        if live is None:
            found = None if event.type != CASE_RECEIVED else self.catalog.in_force(event.procedure,
                                                                                    event.occurred_at, event.agency)
            if found is None:
                reason = (f"case {event.case_id} has not been received" if event.type != CASE_RECEIVED
                          else f"procedure {event.procedure} is not deployed")
                event = sent  # parked as sent: its code is resolved when it is applied
                if parked_id is None:
                    tx.park(event, reason, now)
                else:
                    tx.repark(parked_id, reason)
                writes.seen[event.event_id] = event.fingerprint()
                writes.waiting.add(event.case_id)
                if self.outbox is not None and parked_id is None:
                    writes.acks.append(self.outbox.ack_row(
                        event_id=event.event_id, case_id=event.case_id, status=EventOutcome.PARKED, step=event.step,
                        reason=reason, nonconformity_keys=(), now=now))
                return Outcome(EventOutcome.PARKED, event.event_id, event.case_id, reason, event.step,
                               **_about(event)), None
            version, procedure = found
            handler, applied = CaseHandler.receive(event, procedure, version, self.calendar)
            if event.agency != sent.agency:
                handler.case.agency_original = sent.agency
            live = LiveCase(handler, event_count=0, since_snapshot=0, is_new=True)
        else:
            applied = live.handler.apply(event)
        index = writes.journal_row(event_id=event.event_id, case_id=event.case_id, type_=event.type,
                                   occurred_at=event.occurred_at, payload=journal_payload(event, sent),
                                   notes=applied.notes, fingerprint=sent.fingerprint())
        writes.case(live, index, self.snapshot_every)
        if moved:  # the case's records carry its new code, the unchanged ones too
            writes.nonconformity_records(list(live.case.nonconformities.values()), with_messages=False)
        writes.nonconformity_records(list(applied.nonconformities.values()), with_messages=self.with_messages)
        if self.outbox is not None:
            writes.acks.append(self.outbox.ack_row(
                event_id=event.event_id, case_id=event.case_id, status=EventOutcome.APPLIED, step=event.step,
                reason="; ".join(applied.notes) or None, nonconformity_keys=list(applied.nonconformities), now=now))
        if parked_id is not None:
            writes.parked_deletes.append(parked_id)
        outcome = Outcome(EventOutcome.APPLIED, event.event_id, event.case_id, "; ".join(applied.notes) or None,
                          applied.step, tuple(applied.nonconformities.values()), timings=tuple(applied.timings),
                          **_about(event))
        return outcome, live

    def _under_current_code(self, sent: CaseEvent, live: LiveCase | None) -> tuple[bool, CaseEvent]:
        """Whether the case moved to a successor code, and the event as applied (``agency_codes``)."""
        history = self.agency_codes.history()
        if live is None:
            return False, as_applied(sent, history)
        moved = follow(live, history, sent.occurred_at)
        return moved, as_applied(sent, history, live.case.agency, live.case.agency_original)

    def _refuse_on(self, tx: CaseTransaction, writes: Writes, event: CaseEvent, reason: str, source: str,
                   parked_id: int | None, conflict: bool = False) -> Outcome:
        """Keep a well-formed event that cannot be applied (with its reason), in the transaction in hand."""
        tx.keep_refused({"event_id": event.event_id, "source": source,
                         "raw": _storable(json.dumps(event.to_dict(), ensure_ascii=False)),
                         "problems": _storable(reason), "refused_at": writes.now})
        if self.outbox is not None:
            writes.acks.append(self.outbox.ack_row(event_id=event.event_id, case_id=event.case_id,
                                                   status=EventOutcome.REFUSED, step=event.step, reason=reason,
                                                   nonconformity_keys=(), now=writes.now))
        if parked_id is not None:  # refused when its case arrived: it no longer waits
            writes.parked_deletes.append(parked_id)
        return Outcome(EventOutcome.REFUSED, event.event_id, event.case_id, reason, event.step, conflict=conflict,
                       **_about(event))

    def _apply_parked(self, which: ParkedFilter) -> list[Outcome]:
        """Apply the parked events ``which`` selects, a page at a time (memory stays bounded however
        many are parked), receipts first within a page; a receipt applied brings its case's other
        parked events with it, wherever they are."""
        outcomes: list[Outcome] = []
        last = 0
        while True:
            page = self.store.parked_page(which, last, self.parked_page)
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
                if outcome.status == EventOutcome.APPLIED and payload.get("type") == CASE_RECEIVED:
                    outcomes.extend(self._apply_parked(ParkedFilter(case_id=payload["case_id"])))

    def _refuse_parked(self, parked_id: int, payload: Any, err: EventInvalid) -> Outcome:
        return self.refuse(json.dumps(payload, ensure_ascii=False, default=str), err, "parked", parked_id=parked_id)

    # -- observers and cache (shared with the watcher) -----------------------------------
    def notify(self, outcomes: list[Outcome]) -> None:
        """Tell the observers (metrics) what was committed; an observer's fault never fails an event."""
        for observer in self.observers:
            for outcome in outcomes:
                try:
                    observer(outcome)
                except Exception:  # measurement must not break the engine; say so and go on
                    log.exception("observer %r failed on the outcome of %s", observer, outcome.event_id)

    def follow_agency(self, live: LiveCase, at: datetime) -> bool:
        """Move a case to the agency code standing for its own at ``at`` (the watcher's pass)."""
        return follow(live, self.agency_codes.history(), at)

    def cached(self, case_id: str) -> LiveCase | None:
        """The case held in memory, taken out of the cache (put back by ``remember`` once written)."""
        return self._cache.pop(case_id, None)

    def forget(self, case_id: str) -> None:
        self._cache.pop(case_id, None)

    def remember(self, live: LiveCase) -> None:
        self._cache[live.case.case_id] = live
        self._cache.move_to_end(live.case.case_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def forget_cache(self) -> None:
        self._cache.clear()


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
