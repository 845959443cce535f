"""Migrating a running case to a new version of its procedure: the plan, and the migrated case.

Pure: a case (its handler: case, workflow, procedure version), the new version and a step map in; the
decision out, with the migrated handler when the case moves. The case given is never changed.

What a move keeps, from eiso's own records (``StepRun`` and ``WorkingClock``), never from a timer restart:

- every running step's elapsed working time (``consumed`` plus the time since ``running_since``);
- the pause state (supplement requested, suspended): a paused step stays paused with what it consumed,
  and gets its due when the case resumes, from the new allowance;
- the case clock as it is, a supplement's restart included: the statutory limit a case was received under
  is the one it is measured against (a new version's limit applies to new cases);
- a step whose allowance is unchanged keeps its due exactly; one whose allowance changed gets its due
  recomputed from its own start: the same elapsed working time against the new allowance.

A case stays where it is, with the reason, when an active step was removed and the map does not name it,
when the new version would put it back before a step it already completed, or when the workflow cannot be
carried over at its position (``engine.core.workflow_migration``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.core.calendar import Calendar
from engine.core.case import Case, StepRun
from engine.core.clocks import WorkingClock
from engine.core.handling import CaseHandler
from engine.core.procedure import LoadedProcedure, ProcedureDefinition
from engine.core.workflow import _reachable  # the one home of reachability in a procedure's graph
from engine.core.workflow_migration import PositionUnmapped, move_workflow

# The journal row of a migrated case (engine.store.migration): not a contract event.
CASE_MIGRATED = "case_migrated"

# Why a case stays (``CaseMigration.reason_code``); the message says it with the case's own names.
CLOSED = "closed"
SAME_VERSION = "same_version"
STEP_REMOVED = "step_removed"
BACKWARDS = "backwards"
MERGED = "steps_merged"
POSITION = "position_unmapped"
PAUSED_NEW_CLOCK = "paused_new_allowance"


class StepMapInvalid(ValueError):
    """A step map naming a step that does not exist; the message names every such step."""


@dataclass(frozen=True)
class StepMove:
    """One active step of a moved case: where it goes and its due before and after."""

    seq: int
    step: str
    new_step: str
    allowance_before: int | None
    allowance_after: int | None
    due_before: datetime | None
    due_after: datetime | None
    consumed_seconds: int | None  # working time the step has used (at the migration, for a running clock)
    paused: bool


@dataclass(frozen=True)
class CaseMigration:
    """The decision for one case: moved (with its steps), or stayed with the reason."""

    case_id: str
    agency: str
    procedure: str
    from_version: int
    to_version: int
    steps: tuple[StepMove, ...] = ()
    reason_code: str | None = None
    reason: str | None = None
    mapped: tuple[tuple[str, str], ...] = field(default=())  # (old step, new step) for the steps renamed

    @property
    def moved(self) -> bool:
        return self.reason_code is None


def check_step_map(step_map: Mapping[str, str], old: Iterable[ProcedureDefinition], new: ProcedureDefinition,
                   from_label: str, to_label: str) -> None:
    """Raise ``StepMapInvalid`` naming each map entry whose old step is in none of the ``old`` versions or
    whose new step is not in ``new``."""
    known = {step for definition in old for step in definition.steps}
    problems = []
    for old_step, new_step in step_map.items():
        if old_step not in known:
            problems.append(f"step {old_step!r} (left of '=') is not a step of {from_label}")
        if new_step not in new.steps:
            problems.append(f"step {new_step!r} (mapped from {old_step!r}) is not a step of {to_label}")
    if problems:
        raise StepMapInvalid("; ".join(problems))


def resolve_step_map(old: ProcedureDefinition, new: ProcedureDefinition, given: Mapping[str, str]
                     ) -> dict[str, str | None]:
    """Each old step's step in the new version: the map's, else the same id if it is still there, else None."""
    return {step: given.get(step, step if step in new.steps else None) for step in old.steps}


def plan_case(handler: CaseHandler, new: LoadedProcedure, to_version: int, given: Mapping[str, str],
              at: datetime) -> tuple[CaseMigration, CaseHandler | None]:
    """Decide for one case; when it moves, also the migrated handler (a copy: ``handler`` is not changed).

    ``at`` is the migration instant: it only measures what a running step has used so far, for the summary.
    """
    case, calendar = handler.case, handler.calendar
    base = CaseMigration(case.case_id, case.agency, case.procedure, case.procedure_version, to_version)
    stay = _stays(base)
    if case.closed:
        return stay(CLOSED, f"case {case.case_id} is closed ({case.status})"), None
    if case.procedure_version == to_version and case.procedure_scope == new.scope:
        return stay(SAME_VERSION, f"case {case.case_id} already follows version {to_version}"), None
    step_map = resolve_step_map(handler.definition, new.definition, given)
    active = case.active_runs()
    for run in active:
        if step_map.get(run.step) is None:
            return stay(STEP_REMOVED, f"step {run.step} of case {case.case_id} is active, and version {to_version} "
                                      f"has no step {run.step} and the map does not name it"), None
    targets = [step_map[run.step] for run in active]
    if len(set(targets)) < len(targets):
        return stay(MERGED, f"active steps {', '.join(r.step for r in active)} of case {case.case_id} would become "
                            f"one step in version {to_version}"), None
    backwards = _backwards(case, step_map, new.definition, to_version)
    if backwards is not None:
        return stay(BACKWARDS, backwards), None
    try:
        workflow = move_workflow(handler.workflow, new, step_map)
    except PositionUnmapped as err:
        return stay(POSITION, f"case {case.case_id} cannot be placed in version {to_version}: {err}"), None
    expected = sorted((run.task_id, step_map[run.step] or "") for run in active)
    found = sorted(workflow.ready())
    if found != expected:
        where = ", ".join(step for _, step in found) or "no step"
        return stay(POSITION, f"case {case.case_id} cannot be placed in version {to_version}: it would be at "
                              f"{where} instead of {', '.join(t for _, t in expected)}"), None
    moved = Case.from_dict(case.to_dict())
    moves = []
    for run in moved.active_runs():
        target = step_map[run.step] or run.step
        problem = _reanchor(moved, run, new.definition.steps[target].allowance_seconds,
                            new.definition.steps[target].counted, calendar)
        if problem is not None:
            return stay(PAUSED_NEW_CLOCK, problem), None
        before = next(r for r in active if r.seq == run.seq)
        moves.append(StepMove(
            seq=run.seq, step=run.step, new_step=target,
            allowance_before=before.clock.allowance if before.clock else None,
            allowance_after=run.clock.allowance if run.clock else None,
            due_before=before.current_due(), due_after=run.current_due(),
            consumed_seconds=run.clock.consumed_at(calendar, max(at, run.clock.running_since or at))
            if run.clock else None,
            paused=bool(run.clock and not run.clock.running and not run.clock.stopped)))
        run.step = target
    moved.procedure_version = to_version
    moved.procedure_scope = new.scope
    renamed = tuple(sorted((old, target) for old, target in step_map.items() if target is not None and target != old))
    plan = replace(base, steps=tuple(moves), mapped=renamed)
    return plan, CaseHandler(moved, workflow, new, calendar)


def _stays(base: CaseMigration) -> Callable[[str, str], CaseMigration]:
    def stay(code: str, reason: str) -> CaseMigration:
        return replace(base, reason_code=code, reason=reason)
    return stay


def _backwards(case: Case, step_map: Mapping[str, str | None], new: ProcedureDefinition, to_version: int
               ) -> str | None:
    """Why the move would put the case back before work it completed, or None.

    A completed step C lies strictly after an active step's new place T when C is reachable from T and T is
    not reachable from C (in a loop, such as a return for revision, each reaches the other: not backwards).
    """
    done = [(run.step, step_map.get(run.step)) for run in case.steps if run.completed_at is not None]
    for run in case.active_runs():
        target = step_map[run.step]
        assert target is not None
        ahead = _reachable(new.graph, target)
        for old_step, new_step in done:
            if new_step is None or new_step == target:
                continue
            if new_step in ahead and target not in _reachable(new.graph, new_step):
                return (f"moving case {case.case_id} from step {run.step} to {target} would move it backwards: "
                        f"step {old_step}, already completed, comes after {target} in version {to_version}")
    return None


def _reanchor(case: Case, run: StepRun, allowance: int | None, counted: bool, calendar: Calendar) -> str | None:
    """Give ``run`` the new allowance, keeping its elapsed working time; the problem, if it cannot."""
    clock = run.clock
    if clock is None:
        if allowance is None:
            return None
        if case.resolved_at is not None and counted:
            return None  # a resolved case's counted steps are no longer measured
        if case.pauses:
            return (f"step {run.step} of case {case.case_id} gets an allowance in the new version while the "
                    "case is paused: migrate it after it resumes")
        new_clock = WorkingClock(allowance=allowance)
        # from the step's own start: its activation, or the case clock's restart by a supplement if later
        new_clock.start(calendar, max(run.activated_at, case.started_at))
        run.clock = new_clock
        return None
    if allowance is None:
        run.clock = None
        return None
    if allowance == clock.allowance or clock.stopped:
        return None  # unchanged: the due stays exactly; stopped (a resolved case): its record stays
    clock.allowance = allowance
    if clock.running_since is not None:
        clock.start(calendar, clock.running_since)  # same start, same consumed: the new allowance's due
    return None


def replay(handler: CaseHandler, payload: Mapping[str, Any], new: LoadedProcedure) -> CaseHandler:
    """The case as a ``case_migrated`` journal row left it: the same plan on the same state (a case that
    stayed when the row was written has no such row, so a replay that finds it staying keeps it as it is)."""
    _, moved = plan_case(handler, new, int(payload["to_version"]), payload.get("map") or {},
                         datetime.fromisoformat(payload["at"]))
    return moved if moved is not None else handler


def parse_step_map(text: str, source: str) -> dict[str, str]:
    """A step map file: TOML with one table ``[steps]`` of ``old_step = "new_step"`` lines.

    Raises ``StepMapInvalid`` naming the file and the line or entry that is wrong.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise StepMapInvalid(f"{source}: not TOML: {err}") from None
    unknown = [key for key in document if key != "steps"]
    if unknown:
        raise StepMapInvalid(f"{source}: unknown table or key {unknown[0]!r}: a step map has only [steps]")
    steps = document.get("steps", {})
    if not isinstance(steps, dict):
        raise StepMapInvalid(f"{source}: 'steps' must be a table: [steps] then old_step = \"new_step\" lines")
    bad = [key for key, value in steps.items() if not isinstance(value, str) or not value.strip()]
    if bad:
        raise StepMapInvalid(f"{source}: [steps] {bad[0]}: the new step must be a step id in quotes")
    return {key: value.strip() for key, value in steps.items()}
