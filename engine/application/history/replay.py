"""A trace as contract events (section 2 of the contract), in time order, with deterministic ids.

The receipt is the mapped receipt attribute, else an activity mapped to ``case.received``, else the
trace's first event; ``due_at`` comes from the first due attribute present (``case:deadline``...);
the result from the result attribute (``case:enddate``) unless an activity is mapped to
``case.result_ready``. Activities mapped to a step give ``step.started`` (lifecycle ``start``) and
``step.completed`` (``complete``, or no lifecycle); other lifecycle transitions are not events of
the contract and are counted, not sent. An event's id is derived from the file's SHA-256, the case
id and its index, so importing the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.application.history.log import LogEvent, Trace, TraceProblem
from engine.application.history.mapping import (
    COMPLETE,
    IGNORE,
    START,
    ActivityMap,
    ColumnMapping,
    is_event_type,
    parse_instant,
    text_value,
)
from engine.core.events import (
    CASE_RECEIVED,
    RESULT_READY,
    STEP_COMPLETED,
    STEP_STARTED,
    CaseEvent,
    EventInvalid,
    parse_event,
)


@dataclass(frozen=True)
class ReplayOptions:
    columns: ColumnMapping
    activities: ActivityMap
    zone: ZoneInfo
    file_sha256: str
    agency: str | None = None  # when the log has no agency column
    procedure: str | None = None  # when the log has no procedure column


@dataclass
class ReplayedCase:
    case_id: str
    agency: str
    procedure: str
    received_at: datetime
    events: list[CaseEvent]
    counts: Counter[str] = field(default_factory=Counter)  # unmapped, ignored, duplicate, lifecycle_other
    unmapped: Counter[str] = field(default_factory=Counter)  # activity -> events


@dataclass(frozen=True)
class _Observed:
    at: datetime
    index: int
    type: str
    step: str | None
    actor: dict[str, str] | None
    where: str


def replay_trace(trace: Trace, options: ReplayOptions) -> ReplayedCase:
    """The case's contract events, or ``TraceProblem`` naming the line and the field."""
    if trace.problem is not None:
        raise trace.problem
    if not trace.case_id:
        raise TraceProblem("missing case id", f"{trace.where}: no case id ({options.columns.case_id})")
    columns = options.columns
    agency = _case_value(trace, columns.agency) or options.activities.agency or options.agency
    procedure = _case_value(trace, columns.procedure) or options.activities.procedure or options.procedure
    if agency is None:
        raise TraceProblem("no agency", f"{trace.where}: case {trace.case_id}: no agency ({columns.agency}; or give "
                           "--agency)")
    if procedure is None:
        raise TraceProblem("no procedure", f"{trace.where}: case {trace.case_id}: no procedure code "
                           f"({columns.procedure}; or give --procedure)")
    replayed = ReplayedCase(trace.case_id, agency, procedure, datetime.min, [])
    observed, first_at = _observe(trace, options, replayed)
    receipt = _case_value(trace, columns.receipt)
    received = [o for o in observed if o.type == CASE_RECEIVED]
    if receipt is not None:
        received_at = parse_instant(receipt, options.zone, columns.receipt or "receipt", trace.where)
    elif received:
        received_at = received[0].at
    elif first_at is not None:
        received_at = first_at
    else:
        raise TraceProblem("no events", f"{trace.where}: case {trace.case_id} has no events")
    observed = [o for o in observed if o.type != CASE_RECEIVED]
    early = next((o for o in observed if o.at < received_at), None)
    if early is not None:
        raise TraceProblem("event before receipt", f"{early.where}: case {trace.case_id}: an event at "
                           f"{early.at.isoformat()} comes before the receipt at {received_at.isoformat()}")
    result = _case_value(trace, columns.result)
    if result is not None and not any(o.type == RESULT_READY for o in observed):
        at = parse_instant(result, options.zone, columns.result or "result", trace.where)
        observed.append(_Observed(at, len(trace.events), RESULT_READY, None, None, trace.where))
    due = next((v for v in (_case_value(trace, key) for key in columns.due) if v is not None), None)
    due_at = parse_instant(due, options.zone, "due", trace.where) if due is not None else None
    objects = [_event(options, trace.case_id, 0, CASE_RECEIVED, agency, procedure, received_at, None, None, due_at)]
    for index, o in enumerate(sorted(observed, key=lambda o: (o.at, o.index)), start=1):
        objects.append(_event(options, trace.case_id, index, o.type, agency, procedure, o.at, o.step, o.actor, None))
    try:
        replayed.events = [parse_event(obj) for obj in objects]
    except EventInvalid as err:
        raise TraceProblem("invalid event", f"{trace.where}: case {trace.case_id}: {'; '.join(err.problems)}") from None
    replayed.received_at = received_at
    return replayed


def _observe(trace: Trace, options: ReplayOptions, replayed: ReplayedCase) -> tuple[list[_Observed], datetime | None]:
    columns = options.columns
    observed: list[_Observed] = []
    seen: set[tuple[Any, ...]] = set()
    first_at: datetime | None = None
    for index, event in enumerate(trace.events):
        activity = text_value(event.attributes.get(columns.activity))
        if activity is None:
            raise TraceProblem("missing activity", f"{event.where}: case {trace.case_id}: missing {columns.activity}")
        at = parse_instant(event.attributes.get(columns.timestamp), options.zone, columns.timestamp, event.where)
        first_at = at if first_at is None or at < first_at else first_at
        lifecycle = (text_value(event.attributes.get(columns.lifecycle)) if columns.lifecycle else None) or COMPLETE
        lifecycle = lifecycle.lower()
        targets = options.activities.target(activity)
        if targets is None:
            replayed.counts["unmapped"] += 1
            replayed.unmapped[activity] += 1
            continue
        if targets == (IGNORE,):
            replayed.counts["ignored"] += 1
            continue
        if lifecycle == START:  # a start only starts steps; an event type happens at completion
            targets = tuple(t for t in targets if not is_event_type(t))
        if lifecycle not in (START, COMPLETE) or not targets:
            replayed.counts["lifecycle_other"] += 1
            continue
        actor = _actor(event, columns)
        key = (at, targets, lifecycle, tuple(sorted((actor or {}).items())))
        if key in seen:
            replayed.counts["duplicate"] += 1
            continue
        seen.add(key)
        for target in targets:  # in the map's order: a step completed, then the case returned
            if is_event_type(target):
                observed.append(_Observed(at, index, target, None, actor, event.where))
            else:
                observed.append(_Observed(at, index, STEP_STARTED if lifecycle == START else STEP_COMPLETED, target,
                                          actor, event.where))
    return observed, first_at


def _actor(event: LogEvent, columns: ColumnMapping) -> dict[str, str] | None:
    unit = text_value(event.attributes.get(columns.unit)) if columns.unit else None
    if unit is None:
        unit = text_value(event.attributes.get("org:role"))
    officer = text_value(event.attributes.get(columns.resource)) if columns.resource else None
    actor = {k: v for k, v in (("unit", unit), ("officer", officer)) if v is not None}
    return actor or None


def _case_value(trace: Trace, key: str | None) -> str | None:
    """A case attribute: the trace's own (XES), else the first row that has it (CSV/XLSX)."""
    if key is None:
        return None
    value = text_value(trace.attributes.get(key))
    if value is not None:
        return value
    for event in trace.events:
        value = text_value(event.attributes.get(key))
        if value is not None:
            return value
    return None


def event_id(file_sha256: str, case_id: str, index: int) -> str:
    digest = hashlib.sha256(f"{file_sha256}\x1f{case_id}\x1f{index}".encode()).hexdigest()
    return f"history-{digest[:40]}"


def _event(options: ReplayOptions, case_id: str, index: int, type_: str, agency: str, procedure: str,
           at: datetime, step: str | None, actor: dict[str, str] | None, due_at: datetime | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"event_id": event_id(options.file_sha256, case_id, index), "type": type_,
                           "case_id": case_id, "agency": agency, "procedure": procedure,
                           "occurred_at": at.isoformat()}
    if step is not None:
        obj["step"] = step
    if actor is not None:
        obj["actor"] = actor
    if due_at is not None:
        obj["due_at"] = due_at.isoformat()
    return obj
