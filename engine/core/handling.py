"""The rules of contract sections 3 and 4, applied to one case event by event.

``CaseHandler`` holds a case, its workflow and the calendar. It is deterministic: the
same events (and watcher ticks) in the same order give the same state, which is what
lets the store keep an append-only journal and only occasional snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.core import events as ev
from engine.core import nonconformities as nc
from engine.core.apology import apology_in_time
from engine.core.calendar import Calendar
from engine.core.case import PAUSE_SUPPLEMENT, PAUSE_SUSPENSION, Case, StepRun
from engine.core.clocks import WorkingClock
from engine.core.events import CaseEvent
from engine.core.procedure import LoadedProcedure
from engine.core.states import CaseStatus, NonconformityStatus, Timeliness
from engine.core.workflow import CaseWorkflow, WorkflowStuck

SUPPLEMENT_WINDOW_DAYS = 3
CLOSING = {ev.RETURNED: CaseStatus.RETURNED, ev.WITHDRAWN: CaseStatus.WITHDRAWN, ev.REJECTED: CaseStatus.REJECTED,
           ev.STOPPED: CaseStatus.STOPPED}


@dataclass(frozen=True)
class Timing:
    """Working time a step or a case took (pauses excluded) and its timeliness, for measurement."""

    step: str | None
    working_seconds: int
    timeliness: Timeliness | None


@dataclass
class Applied:
    """What one event did to its case: notes for the sender, nonconformities raised or changed,
    and the steps (and the case) it finished, with their working time."""

    notes: list[str] = field(default_factory=list)
    nonconformities: dict[str, nc.Nonconformity] = field(default_factory=dict)
    step: str | None = None
    timings: list[Timing] = field(default_factory=list)


def judge(calendar: Calendar, at: datetime, due: datetime) -> Timeliness:
    """Late after the due instant; early before its calendar day; on time otherwise."""
    if at > due:
        return Timeliness.LATE
    if calendar.local(at).date() < calendar.local(due).date():
        return Timeliness.EARLY
    return Timeliness.ON_TIME


class CaseHandler:
    def __init__(self, case: Case, workflow: CaseWorkflow, procedure: LoadedProcedure, calendar: Calendar):
        self.case = case
        self.workflow = workflow
        self.procedure = procedure
        self.definition = procedure.definition
        self.calendar = calendar
        self._applied = Applied()

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def receive(cls, event: CaseEvent, procedure: LoadedProcedure, version: int, calendar: Calendar) -> tuple[
        CaseHandler, Applied
    ]:
        start = calendar.case_start(event.occurred_at)
        clock = WorkingClock(allowance=procedure.definition.statutory_limit_seconds)
        clock.start(calendar, start)
        case = Case(
            case_id=event.case_id,
            agency=event.agency,
            procedure=event.procedure,
            procedure_version=version,
            procedure_scope=procedure.scope,
            received_at=event.occurred_at,
            received_event_id=event.event_id,
            started_at=start,
            clock=clock,
            promised_at=event.due_at,
            data=dict(event.data),
            last_event_at=event.occurred_at,
            event_count=1,
        )
        handler = cls(case, CaseWorkflow.start(procedure, case.data), procedure, calendar)
        if event.due_at is not None and clock.due_at is not None and event.due_at > clock.due_at:
            handler._raise(
                nc.APPOINTMENT_BEYOND_LIMIT, handler._key(nc.APPOINTMENT_BEYOND_LIMIT), event.occurred_at,
                [event.event_id], due=clock.due_at, actual=event.due_at,
                delay=calendar.between(clock.due_at, event.due_at),
            )
        handler._activate_ready(event.occurred_at, event.event_id, clock_start=start)
        return handler, handler._take()

    # -- applying ----------------------------------------------------------------------
    def refusal(self, event: CaseEvent) -> str | None:
        """Why ``event`` cannot be applied to this case at all, or None; a refused event changes nothing.

        The agency is checked first, and its reason names only what the event itself says: an event
        naming a case of another agency learns nothing about that case. The later reasons are only
        given to the case's own agency.
        """
        case = self.case
        if event.agency != case.agency:
            return (f"event {event.event_id!r} names agency {event.agency!r}, which is not the agency of "
                    f"case {event.case_id}")
        if event.procedure != case.procedure:
            return (f"event {event.event_id!r} names procedure {event.procedure!r} but case {case.case_id} "
                    f"follows procedure {case.procedure!r}")
        at = event.occurred_at
        if at < case.received_at:
            return (f"event {event.event_id!r} occurred at {at.isoformat()}, before case {case.case_id} was "
                    f"received ({case.received_at.isoformat()})")
        if event.type in ev.STEP_EVENT_TYPES and not case.closed:
            activated = self._activation_of(event)
            if activated is not None and at < activated:
                return (f"event {event.event_id!r} occurred at {at.isoformat()}, before step {event.step} became "
                        f"active ({activated.isoformat()}): a step cannot start or finish before it is handed over")
        return None

    def _activation_of(self, event: CaseEvent) -> datetime | None:
        """When the step an event names became active; for a completion that bypasses steps, the
        latest activation among those it would complete as skipped."""
        assert event.step is not None
        run = self._active_run(event.step)
        if run is not None:
            return run.activated_at
        if event.type != ev.STEP_COMPLETED or event.step not in self.definition.steps:
            return None
        on_path = self.workflow.path_to(event.step) or set()
        bypassed = [r.activated_at for r in self.case.active_runs() if r.step in on_path]
        return max(bypassed, default=None)

    def apply(self, event: CaseEvent) -> Applied:
        case = self.case
        at = event.occurred_at
        case.event_count += 1
        case.last_event_at = at
        self._applied.step = event.step
        if case.closed:
            self._raise(nc.EVENT_AFTER_CLOSE, self._key(nc.EVENT_AFTER_CLOSE, event.event_id), at,
                        [event.event_id], step=event.step, details={"event_type": event.type})
            self._note(f"case {case.case_id} is closed ({case.status}); the event is recorded as a nonconformity")
            return self._take()
        if event.data:
            case.data.update(event.data)
        self.evaluate(at, event.event_id)
        EVENT_HANDLERS[event.type](self, event)
        return self._take()

    def tick(self, at: datetime) -> Applied:
        """A watcher pass: raise whatever became overdue by ``at``."""
        if not self.case.closed:
            self.evaluate(at, None)
        return self._take()

    def evaluate(self, at: datetime, event_id: str | None) -> None:
        case = self.case
        for run in case.active_runs():
            if run.clock is None or not run.clock.overdue_at(at):
                continue
            key = nc.step_key(case.case_id, run.seq)
            if key not in case.nonconformities:
                due = run.clock.due_at
                assert due is not None
                self._raise(nc.STEP_OVERDUE, key, at, _ids(run.activated_by, event_id), step=run.step,
                            due=due, delay=self.calendar.between(due, at))
        if case.resolved_at is None and case.clock.overdue_at(at):
            due = case.clock.due_at
            assert due is not None
            key = nc.case_key(case.case_id)
            if key not in case.nonconformities:
                self._raise(nc.CASE_OVERDUE, key, at, _ids(case.received_event_id, event_id), due=due,
                            delay=self.calendar.between(due, at))
            self._check_apology(at, due, event_id)

    # -- event types (dispatched through EVENT_HANDLERS) -----------------------------------
    def _on_case_received(self, event: CaseEvent) -> None:
        self._note(f"case {self.case.case_id} was already received; the repeated receipt changes nothing")

    def _on_step_started(self, event: CaseEvent) -> None:
        assert event.step is not None
        run = self._active_run(event.step)
        if run is None:
            if self._unknown(event):
                return
            self._note(f"step {event.step} is not active; start recorded only in the journal")
            return
        run.started_at = run.started_at or event.occurred_at

    def _on_step_completed(self, event: CaseEvent) -> None:
        assert event.step is not None
        if self._unknown(event):
            return
        run = self._active_run(event.step)
        if run is None:
            run = self._bypass_to(event)
            if run is None:
                return
        self._complete(run, event.occurred_at, event.event_id)
        try:
            self.workflow.complete(run.task_id, self.case.data)
        except WorkflowStuck as err:
            self._note(f"the procedure cannot continue after {run.step}: {err}")
        self._activate_ready(event.occurred_at, event.event_id)

    def _on_case_supplement_requested(self, event: CaseEvent) -> None:
        case, at = self.case, event.occurred_at
        used = case.clock.consumed_at(self.calendar, at)
        window = SUPPLEMENT_WINDOW_DAYS * self._day()
        if used > window:
            self._raise(nc.LATE_SUPPLEMENT_REQUEST, self._key(nc.LATE_SUPPLEMENT_REQUEST, event.event_id), at,
                        [case.received_event_id, event.event_id],
                        due=self.calendar.add(case.started_at, window), actual=at, delay=used - window)
        self._pause(PAUSE_SUPPLEMENT, at)

    def _on_case_supplement_received(self, event: CaseEvent) -> None:
        case, at = self.case, event.occurred_at
        if PAUSE_SUPPLEMENT not in case.pauses:
            self._note("no supplement was requested; the case clock is not restarted")
            return
        case.pauses.discard(PAUSE_SUPPLEMENT)
        case.epoch += 1
        start = self.calendar.case_start(at)
        case.started_at = start
        running = not case.pauses and case.resolved_at is None
        case.clock.consumed = 0
        if running:
            case.clock.start(self.calendar, start)
        for run in case.active_runs():
            run.epoch = case.epoch
            if run.clock is not None:
                run.clock.consumed = 0
                if not case.pauses:
                    run.clock.start(self.calendar, start)

    def _on_case_suspended(self, event: CaseEvent) -> None:
        if PAUSE_SUSPENSION in self.case.pauses:
            self._note("the case is already suspended")
            return
        self._pause(PAUSE_SUSPENSION, event.occurred_at)

    def _on_case_resumed(self, event: CaseEvent) -> None:
        case = self.case
        if PAUSE_SUSPENSION not in case.pauses:
            self._note("the case is not suspended")
            return
        case.pauses.discard(PAUSE_SUSPENSION)
        if case.pauses:
            return
        at = event.occurred_at
        if case.resolved_at is None:
            case.clock.start(self.calendar, at)
        for run in case.active_runs():
            if run.clock is not None and not run.clock.stopped:
                run.clock.start(self.calendar, at)

    def _on_case_extended(self, event: CaseEvent) -> None:
        case = self.case
        case.extensions.append((event.event_id, event.occurred_at))
        if event.due_at is not None:
            case.extended_due_at = event.due_at
        if len(case.extensions) > 1:
            self._raise(nc.REPEATED_EXTENSION, self._key(nc.REPEATED_EXTENSION, event.event_id), event.occurred_at,
                        [eid for eid, _ in case.extensions], actual=event.occurred_at,
                        due=case.extended_due_at)

    def _on_case_result_ready(self, event: CaseEvent) -> None:
        if self.case.resolved_at is not None:
            self._note("the case was already resolved")
            return
        self._resolve(event.occurred_at, event.event_id)

    def _on_case_returned(self, event: CaseEvent) -> None:
        if self.case.resolved_at is None:
            self._resolve(event.occurred_at, event.event_id)
        self._close(event)

    def _on_case_closed(self, event: CaseEvent) -> None:
        """Withdrawn, rejected or stopped: the case ends unresolved."""
        self._close(event)

    # -- mechanics ---------------------------------------------------------------------
    def _resolve(self, at: datetime, event_id: str) -> None:
        case = self.case
        due = case.clock.projected_due(self.calendar, at)
        case.clock.stop(self.calendar, at)
        case.due_at_resolution = due
        case.resolved_at = at
        case.timeliness = judge(self.calendar, at, due)
        case.delay_seconds = self.calendar.between(due, at) if case.timeliness == Timeliness.LATE else 0
        self._applied.timings.append(Timing(None, case.clock.consumed, case.timeliness))
        if case.timeliness == Timeliness.LATE:
            self._make_late(nc.case_key(case.case_id), nc.CASE_LATE, at, event_id, due, case.delay_seconds,
                            _ids(case.received_event_id, event_id), step=None)
            self._check_apology(at, due, event_id)
        else:
            reason = f"resolved at {at.isoformat()}, within the due {due.isoformat()}"
            self._retract(nc.case_key(case.case_id), reason)
            self._retract(self._key(nc.MISSING_APOLOGY), reason)
        for run in case.active_runs():
            step = self.definition.steps.get(run.step)
            if run.clock is not None and (step is None or step.counted):
                run.clock.stop(self.calendar, at)

    def _close(self, event: CaseEvent) -> None:
        case = self.case
        case.closed_status = CLOSING[event.type]
        case.closed_at = event.occurred_at
        if case.resolved_at is None:
            case.clock.stop(self.calendar, event.occurred_at)
        for run in case.active_runs():
            run.abandoned = True
            if run.clock is not None:
                run.clock.stop(self.calendar, event.occurred_at)

    def _pause(self, reason: str, at: datetime) -> None:
        case = self.case
        case.pauses.add(reason)
        case.clock.pause(self.calendar, at)
        for run in case.active_runs():
            if run.clock is not None:
                run.clock.pause(self.calendar, at)

    def _complete(self, run: StepRun, at: datetime, event_id: str) -> None:
        run.completed_at = at
        run.completed_by = event_id
        if run.clock is None:
            return
        due = run.clock.projected_due(self.calendar, at)
        run.clock.stop(self.calendar, at)
        run.due_at = due
        run.timeliness = judge(self.calendar, at, due)
        run.delay_seconds = self.calendar.between(due, at) if run.timeliness == Timeliness.LATE else 0
        self._applied.timings.append(Timing(run.step, run.clock.consumed, run.timeliness))
        key = nc.step_key(self.case.case_id, run.seq)
        if run.timeliness == Timeliness.LATE:
            self._make_late(key, nc.STEP_LATE, at, event_id, due, run.delay_seconds,
                            _ids(run.activated_by, event_id), step=run.step)
        else:
            self._retract(key, f"completed at {at.isoformat()}, within the due {due.isoformat()}")

    def _make_late(self, key: str, late_type: str, at: datetime, event_id: str, due: datetime,
                   delay: int, evidence: list[str], step: str | None) -> None:
        existing = self.case.nonconformities.get(key)
        if existing is None:
            self._raise(late_type, key, at, evidence, step=step, due=due, actual=at, delay=delay)
            return
        ids = tuple(dict.fromkeys([*existing.event_ids, event_id]))
        self._store(existing.evolve(type=late_type, due_at=due, actual_at=at, delay_seconds=delay, event_ids=ids,
                                    status=NonconformityStatus.OPEN if existing.status == NonconformityStatus.RETRACTED
                                    else existing.status))

    def _retract(self, key: str, reason: str) -> None:
        """An overdue record whose step or case turned out not late after all.

        The due it was raised against was restarted by a supplement, or the event reporting the
        completion arrived after the watcher had looked. It is kept for the record, marked retracted.
        """
        existing = self.case.nonconformities.get(key)
        if existing is None or existing.status == NonconformityStatus.RETRACTED:
            return
        if existing.type not in (nc.STEP_OVERDUE, nc.CASE_OVERDUE, nc.MISSING_APOLOGY):
            return
        self._store(existing.evolve(status=NonconformityStatus.RETRACTED,
                                    details={**existing.details, "retracted": reason}))

    def _check_apology(self, at: datetime, due: datetime, event_id: str | None) -> None:
        case = self.case
        key = self._key(nc.MISSING_APOLOGY)
        existing = case.nonconformities.get(key)
        if existing is not None and existing.status != NonconformityStatus.RETRACTED:
            return
        timely = [eid for eid, t in case.extensions if t <= due and apology_in_time(self.calendar, t, due)]
        if timely:
            return
        late_ext = [(eid, t) for eid, t in case.extensions]
        self._raise(nc.MISSING_APOLOGY, key, at,
                    _ids(case.received_event_id, *[eid for eid, _ in late_ext], event_id),
                    due=due, actual=late_ext[0][1] if late_ext else None)

    def _bypass_to(self, event: CaseEvent) -> StepRun | None:
        """Complete (as skipped) the active steps that stand between the case and ``event.step``."""
        assert event.step is not None
        at = event.occurred_at
        for _ in range(len(self.definition.steps) * 2 + 2):
            on_path = self.workflow.path_to(event.step)
            if on_path is None:
                self._note(f"step {event.step} is not active and cannot be reached from the active steps "
                           f"({', '.join(self.workflow.ready_steps()) or 'none'})")
                return None
            if not on_path:
                return self._active_run(event.step)
            for run in [r for r in self.case.active_runs() if r.step in on_path]:
                run.skipped = True
                if run.clock is not None:
                    run.due_at = run.clock.projected_due(self.calendar, at)
                    run.clock.stop(self.calendar, at)
                self._raise(nc.STEP_SKIPPED, self._key(nc.STEP_SKIPPED, run.seq), at, [event.event_id], step=run.step,
                            due=run.due_at, details={"completed_step": event.step})
                try:
                    self.workflow.complete(run.task_id, self.case.data)
                except WorkflowStuck as err:
                    self._note(f"the procedure cannot continue after {run.step}: {err}")
                    return None
            self._activate_ready(at, event.event_id)
        return None

    def _activate_ready(self, at: datetime, event_id: str, clock_start: datetime | None = None) -> None:
        case = self.case
        known = {run.task_id for run in case.steps}
        for task_id, step_id in self.workflow.ready():
            if task_id in known:
                continue
            step = self.definition.steps[step_id]
            clock = None
            if step.allowance_seconds is not None:
                clock = WorkingClock(allowance=step.allowance_seconds)
                expected = case.resolved_at is None or not step.counted
                if expected and not case.pauses:
                    clock.start(self.calendar, clock_start or at)
            case.steps.append(StepRun(seq=len(case.steps), step=step_id, task_id=task_id, activated_at=at,
                                      epoch=case.epoch, clock=clock, activated_by=event_id))

    def _unknown(self, event: CaseEvent) -> bool:
        assert event.step is not None
        if event.step in self.definition.steps:
            return False
        self._raise(nc.UNKNOWN_STEP, self._key(nc.UNKNOWN_STEP, event.event_id), event.occurred_at, [event.event_id],
                    step=event.step, details={"event_type": event.type})
        return True

    def _active_run(self, step_id: str) -> StepRun | None:
        return next((r for r in self.case.active_runs() if r.step == step_id), None)

    def _key(self, *parts: str | int) -> str:
        return nc.record_key(self.case.case_id, *parts)

    def _day(self) -> int:
        return self.calendar.day_seconds

    def _raise(self, kind: str, key: str, at: datetime, event_ids: list[str], *, step: str | None = None,
               due: datetime | None = None, actual: datetime | None = None, delay: int | None = None,
               details: dict[str, Any] | None = None) -> None:
        case = self.case
        self._store(nc.Nonconformity(
            key=key, type=kind, case_id=case.case_id, agency=case.agency,
            procedure=case.procedure, procedure_version=case.procedure_version, step=step, due_at=due,
            actual_at=actual, delay_seconds=delay, detected_at=at, event_ids=tuple(dict.fromkeys(event_ids)),
            details=details or {}, procedure_scope=case.procedure_scope,
        ))

    def _store(self, record: nc.Nonconformity) -> None:
        self.case.nonconformities[record.key] = record
        self._applied.nonconformities[record.key] = record

    def _note(self, text: str) -> None:
        self._applied.notes.append(text)

    def _take(self) -> Applied:
        applied, self._applied = self._applied, Applied()
        return applied


def _ids(*ids: str | None) -> list[str]:
    return [i for i in ids if i]


# Every event type of the contract (``engine.core.events.EVENT_TYPES``) and the rule that applies it;
# tests/unit/test_handler_table.py checks that none is missing.
EVENT_HANDLERS: dict[str, Callable[[CaseHandler, CaseEvent], None]] = {
    ev.CASE_RECEIVED: CaseHandler._on_case_received,
    ev.STEP_STARTED: CaseHandler._on_step_started,
    ev.STEP_COMPLETED: CaseHandler._on_step_completed,
    ev.SUPPLEMENT_REQUESTED: CaseHandler._on_case_supplement_requested,
    ev.SUPPLEMENT_RECEIVED: CaseHandler._on_case_supplement_received,
    ev.SUSPENDED: CaseHandler._on_case_suspended,
    ev.RESUMED: CaseHandler._on_case_resumed,
    ev.EXTENDED: CaseHandler._on_case_extended,
    ev.RESULT_READY: CaseHandler._on_case_result_ready,
    ev.RETURNED: CaseHandler._on_case_returned,
    ev.WITHDRAWN: CaseHandler._on_case_closed,
    ev.REJECTED: CaseHandler._on_case_closed,
    ev.STOPPED: CaseHandler._on_case_closed,
}
