"""The ``eiso history import`` use case: stream the log, replay each case through the real engine.

Each case is all or nothing: a case that cannot be read or mapped, names a procedure not deployed,
or whose id is already in the store from elsewhere, is refused with its reason before anything of
it is written; the others go on. The cases' events are applied in batches through the ingest use
case (``CaseService.ingest_batch``) on a service of their own: no outbox (nothing replayed reaches
Kafka or the live stream) and findings tagged ``history:<import id>`` (``engine.store.history``).
A case still open at the end of the log gets one watcher pass as of now, with the same tag, so its
overdue findings are the replay's and not the live watcher's.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.application.history.catalog import ReplayProcedures
from engine.application.history.log import HistoryLogError, Trace, TraceProblem
from engine.application.history.mapping import ActivityMap, ColumnMapping
from engine.application.history.replay import ReplayedCase, ReplayOptions, event_id, replay_trace
from engine.application.history.table import is_table, read_table
from engine.application.history.xes import is_xes, read_xes
from engine.application.ingest import CaseService
from engine.application.ports import Clock, Procedures
from engine.core.calendar import Calendar
from engine.core.events import CLOSING_TYPES, RESULT_READY, CaseEvent
from engine.core.states import EventOutcome
from engine.store.history import (
    HistoryImportRow,
    ReplayCaseStore,
    finish_import,
    foreign_cases,
    source_of,
    start_import,
)

BATCH_EVENTS = 500
EXAMPLES = 5  # refused cases shown per reason
REPLAY_CACHE = 2000  # cases kept in memory between batches: a replayed case rarely comes back
_RESOLVING = CLOSING_TYPES | {RESULT_READY}


@dataclass(frozen=True)
class HistoryRequest:
    path: Path
    columns: ColumnMapping = field(default_factory=ColumnMapping)
    activities: ActivityMap = field(default_factory=lambda: ActivityMap({}))
    zone: ZoneInfo | None = None  # None: the calendar's
    actor: str = "cli"
    role: str = "cli"
    agency: str | None = None
    procedure: str | None = None
    grouped: bool = False
    encoding: str | None = None


@dataclass
class ImportSummary:
    import_id: str
    file_name: str
    sha256: str
    target: str
    rows: int = 0
    cases: int = 0
    cases_replayed: int = 0
    cases_refused: int = 0
    events: int = 0  # contract events made from the log
    outcomes: Counter[str] = field(default_factory=Counter)  # applied, duplicate, refused, parked
    row_counts: Counter[str] = field(default_factory=Counter)  # unmapped, ignored, duplicate, lifecycle_other
    unmapped: Counter[str] = field(default_factory=Counter)  # activity -> events
    refused: Counter[str] = field(default_factory=Counter)  # reason kind -> cases
    examples: dict[str, list[str]] = field(default_factory=dict)
    nonconformities: Counter[str] = field(default_factory=Counter)
    file_problem: str | None = None

    def refuse(self, kind: str, message: str) -> None:
        self.cases_refused += 1
        self.refused[kind] += 1
        self.note(kind, message)

    def note(self, kind: str, message: str) -> None:
        """An example of a problem that is not a refused case (an event refused, a watcher pass failed)."""
        shown = self.examples.setdefault(kind, [])
        if len(shown) < EXAMPLES:
            shown.append(message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id, "source": source_of(self.import_id), "file": self.file_name,
            "sha256": self.sha256, "target_database": self.target, "rows": self.rows, "cases": self.cases,
            "cases_replayed": self.cases_replayed, "cases_refused": self.cases_refused, "events": self.events,
            "events_by_outcome": dict(sorted(self.outcomes.items())),
            "rows_unmapped": self.row_counts["unmapped"], "rows_ignored": self.row_counts["ignored"],
            "rows_duplicate": self.row_counts["duplicate"], "rows_other_lifecycle": self.row_counts["lifecycle_other"],
            "unmapped_activities": dict(self.unmapped.most_common()),
            "refused_reasons": dict(self.refused.most_common()), "refused_examples": self.examples,
            "nonconformities": dict(sorted(self.nonconformities.items())), "file_problem": self.file_problem,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_traces(request: HistoryRequest, progress: Callable[[int], None] | None = None) -> Iterator[Trace]:
    """The log's traces, whatever its format (``HistoryLogError`` when it is none of them)."""
    if is_xes(request.path):
        return read_xes(request.path, request.columns.case_id, progress)
    if is_table(request.path):
        return read_table(request.path, request.columns, progress, grouped=request.grouped,
                          encoding=request.encoding)
    raise HistoryLogError(f"{request.path.name}: expected an XES log (.xes, .xes.gz) or a table (.csv, .xlsx)")


class HistoryImport:
    """One import into ``engine`` (the normal store or an audit-run database)."""

    def __init__(self, engine: Engine, catalog: Procedures, calendar: Calendar, clock: Clock, target: str):
        self.engine = engine
        self.catalog = ReplayProcedures(catalog, clock)
        self.calendar = calendar
        self.clock = clock
        self.target = target

    def run(self, request: HistoryRequest, progress: Callable[[int], None] | None = None,
            audit_engines: list[Engine] | None = None) -> ImportSummary:
        sha = file_sha256(request.path)
        traces = read_traces(request, progress)
        first = next(traces, None)  # a file that cannot be read at all fails here, before any record
        started = self.clock.now()
        wanted_id = f"{started.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%S}-{sha[:8]}"
        mapping = {"columns": request.columns.as_dict(), "activities": dict(request.activities.targets),
                   "procedure": request.procedure or request.activities.procedure,
                   "agency": request.agency or request.activities.agency,
                   "timezone": str(request.zone or self.calendar.zone)}
        import_id = start_import(self.engine, HistoryImportRow(
            id=wanted_id, file_name=request.path.name[:500], sha256=sha, mapping=mapping, started_at=started,
            actor=request.actor[:200]))
        summary = ImportSummary(import_id, request.path.name, sha, self.target)
        service = CaseService(self.engine, self.catalog, self.calendar, self.clock, cache_size=REPLAY_CACHE,
                              store=ReplayCaseStore(self.engine, source_of(import_id)))
        options = ReplayOptions(request.columns, request.activities, request.zone or self.calendar.zone, sha,
                                request.agency, request.procedure)
        batch: list[ReplayedCase] = []
        batch_events = 0
        open_cases: list[str] = []
        seen: set[str] = set()  # case ids of this log (an id, not its events: memory per case is a few dozen bytes)
        try:
            for trace in chain([first] if first is not None else [], traces):
                summary.cases += 1
                summary.rows += len(trace.events)
                if trace.case_id and trace.case_id in seen:
                    summary.refuse("case id repeated", f"{trace.where}: case {trace.case_id} was already in this "
                                   "log: not replayed twice")
                    continue
                seen.add(trace.case_id)
                replayed = self._replayed(trace, options, summary)
                if replayed is None:
                    continue
                batch.append(replayed)
                batch_events += len(replayed.events)
                if batch_events >= BATCH_EVENTS:
                    self._apply(service, batch, summary, open_cases)
                    batch, batch_events = [], 0
        except HistoryLogError as err:
            summary.file_problem = str(err)
        self._apply(service, batch, summary, open_cases)
        now = self.clock.now()
        for case_id in open_cases:
            try:
                raised = service.watch_case(case_id, now)
            except SQLAlchemyError:
                raise
            except Exception as err:  # one case's pass failing never stops the import: named in the summary
                summary.note("watcher pass failed", f"case {case_id}: {type(err).__name__}: {err}")
                continue
            for record in raised:
                summary.nonconformities[record.type] += 1
        finish_import(self.engine, import_id, rows=summary.rows, cases=summary.cases, events=summary.events,
                      cases_refused=summary.cases_refused, at=self.clock.now(), role=request.role,
                      audit_engines=audit_engines or [self.engine], target=self.target)
        return summary

    def _replayed(self, trace: Trace, options: ReplayOptions, summary: ImportSummary) -> ReplayedCase | None:
        try:
            replayed = replay_trace(trace, options)
        except TraceProblem as problem:
            summary.refuse(problem.kind, str(problem))
            return None
        summary.row_counts.update(replayed.counts)
        summary.unmapped.update(replayed.unmapped)
        if self.catalog.in_force(replayed.procedure, replayed.received_at, replayed.agency) is None:
            summary.refuse("procedure not deployed", f"{trace.where}: case {trace.case_id}: procedure "
                           f"{replayed.procedure} is not deployed for agency {replayed.agency}")
            return None
        return replayed

    def _apply(self, service: CaseService, batch: list[ReplayedCase], summary: ImportSummary,
               open_cases: list[str]) -> None:
        if not batch:
            return
        foreign = foreign_cases(self.engine, {c.case_id: c.events[0].event_id for c in batch})
        events: list[CaseEvent] = []
        for case in batch:
            if case.case_id in foreign:
                summary.refuse("case already in the store", f"case {case.case_id}: already in the store, not from "
                               "this file (its receipt has another event id): not replayed")
                continue
            summary.cases_replayed += 1
            summary.events += len(case.events)
            events.extend(case.events)
            if not any(e.type in _RESOLVING for e in case.events):
                open_cases.append(case.case_id)
        try:
            outcomes = service.ingest_batch(events)
        except SQLAlchemyError:  # the database, not the data: the import stops (its record says how far it got)
            raise
        except Exception:  # an engine fault rolled the batch back: each case again, in a transaction of its own
            outcomes = []
            for case in batch:
                if case.case_id in foreign:
                    continue
                try:
                    outcomes.extend(service.ingest_batch(case.events))
                except SQLAlchemyError:
                    raise
                except Exception as err:  # this case alone is refused, nothing of it written
                    service.forget_cache()
                    summary.cases_replayed -= 1
                    summary.events -= len(case.events)
                    summary.refuse("engine error", f"case {case.case_id}: {type(err).__name__}: {err}")
        for outcome in outcomes:
            summary.outcomes[outcome.status] += 1
            for record in outcome.nonconformities:
                summary.nonconformities[record.type] += 1
            if outcome.status == EventOutcome.REFUSED:  # counted in events_by_outcome, shown here
                summary.note("event refused by the engine",
                             f"case {outcome.case_id}: event {outcome.event_id}: {outcome.reason}")


__all__ = ["HistoryImport", "HistoryRequest", "ImportSummary", "event_id", "file_sha256", "read_traces"]
