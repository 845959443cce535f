"""The migration use case: move a procedure's running cases to a new version, or say why each stays.

One transaction per case: the case is read, planned (``engine.core.migration.plan_case``) and, when it
moves and this is no dry run, written with its journal row, snapshot and audit row
(``engine.store.migration``). A dry run plans the same way and writes nothing. The command line and the
API answer the same summary (``MigrationSummary.to_dict``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from engine.application.actor import Actor
from engine.core.agency import covers
from engine.core.calendar import Calendar, WorkingTimeOutOfRange
from engine.core.migration import CaseMigration, StepMapInvalid, check_step_map, plan_case
from engine.core.procedure import LoadedProcedure
from engine.store.cases import StaleCase, load_case
from engine.store.catalog import ProcedureCatalog, version_key
from engine.store.migration import RunningCase, migration_payload, running_cases, write_migration

__all__ = ["MigrationConflict", "MigrationRequest", "MigrationSummary", "ProcedureNotFound", "StepMapInvalid",
           "migrate_cases"]

# Why a case stays, besides the plan's own reasons (``engine.core.migration``).
NO_TARGET = "no_target_version"
TARGET_RETIRED = "target_retired"
NOT_PERMITTED = "not_permitted"
BUSY = "changed_meanwhile"
UNREADABLE = "case_unreadable"


class ProcedureNotFound(LookupError):
    """The code, or the version asked for, is not deployed."""


class MigrationConflict(ValueError):
    """The request contradicts the catalogue's state (the target version is retired)."""


@dataclass(frozen=True)
class MigrationRequest:
    code: str
    to_version: int
    from_version: int | None = None
    agencies: tuple[str, ...] = ()  # cases of these agencies (each covers the codes below it); none: all
    step_map: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = False


@dataclass(frozen=True)
class MigrationSummary:
    request: MigrationRequest
    cases: tuple[CaseMigration, ...]

    @property
    def moved(self) -> list[CaseMigration]:
        return [c for c in self.cases if c.moved]

    @property
    def stayed(self) -> list[CaseMigration]:
        return [c for c in self.cases if not c.moved]

    def to_dict(self, calendar: Calendar) -> dict[str, Any]:
        """The JSON answer of ``eiso procedures migrate --format json`` and of the API."""
        def local(at: datetime | None) -> str | None:
            return None if at is None else calendar.local(at).isoformat()

        def hours(seconds: int | None) -> float | None:
            return None if seconds is None else round(seconds / 3600, 2)

        request = self.request
        return {
            "procedure": request.code, "to_version": request.to_version, "from_version": request.from_version,
            "agencies": list(request.agencies), "dry_run": request.dry_run,
            "map": dict(request.step_map), "moved": len(self.moved), "stayed": len(self.stayed),
            "cases": [{
                "case_id": c.case_id, "agency": c.agency, "from_version": c.from_version,
                "to_version": c.to_version, "result": "moved" if c.moved else "stayed",
                "reason_code": c.reason_code, "reason": c.reason,
                "mapped_steps": {old: new for old, new in c.mapped},
                "steps": [{
                    "seq": m.seq, "step": m.step, "new_step": m.new_step,
                    "allowance_hours_before": hours(m.allowance_before),
                    "allowance_hours_after": hours(m.allowance_after),
                    "consumed_hours": hours(m.consumed_seconds), "paused": m.paused,
                    "due_before": local(m.due_before), "due_after": local(m.due_after),
                } for m in c.steps],
            } for c in self.cases],
        }


def migrate_cases(engine: Engine, catalog: ProcedureCatalog, calendar: Calendar, request: MigrationRequest,
                  actor: Actor, now: datetime, *, visible: Callable[[str], bool] | None = None,
                  manages: Callable[[str], bool] | None = None,
                  forget: Callable[[str], None] | None = None) -> MigrationSummary:
    """Plan (and unless ``request.dry_run``, apply) the migration of ``request.code``'s running cases.

    ``visible(agency)``: the cases the caller may see (the API user's agencies; default all);
    ``manages(scope)``: the deployments whose cases they may migrate (default all). ``forget(case_id)``
    drops a migrated case from an in-memory cache. Raises ``ProcedureNotFound`` (unknown code or version),
    ``StepMapInvalid`` (the map names a step that does not exist; nothing is written) and
    ``MigrationConflict`` (every deployment's target version is retired).
    """
    code, to = request.code, request.to_version
    versions = catalog.versions(code)
    if not versions:
        raise ProcedureNotFound(f"procedure {code} is not deployed")
    targets = {row.scope: row for row in versions if row.version == to}
    if not targets:
        raise ProcedureNotFound(f"procedure {code} has no version {to}")
    if request.from_version is not None and not any(row.version == request.from_version for row in versions):
        raise ProcedureNotFound(f"procedure {code} has no version {request.from_version}")
    if all(row.retired_at is not None for row in targets.values()):
        raise MigrationConflict(f"version {to} of procedure {code} is retired: no case moves onto a retired version")
    with engine.connect() as conn:
        found = running_cases(conn, code, request.from_version)
    # a case already on the version (of its own deployment) is not selected: there is nothing to move
    selected = [c for c in found if c.version != to and _wanted(c, request, visible)]
    _check_map(catalog, request, versions, selected, targets)
    results = []
    for running in selected:
        target = targets.get(running.scope)
        if target is None:
            results.append(_stay(running, request, NO_TARGET, f"case {running.case_id} follows the deployment "
                                 f"{version_key(code, running.version, running.scope)}, which has no version {to}"))
        elif manages is not None and not manages(running.scope):
            results.append(_stay(running, request, NOT_PERMITTED, f"case {running.case_id} follows a deployment "
                                 f"for {running.scope}, which you do not manage"))
        elif target.retired_at is not None:
            results.append(_stay(running, request, TARGET_RETIRED,
                                 f"{version_key(code, to, running.scope)} is retired"))
        else:
            results.append(_one(engine, catalog, calendar, request, running,
                                catalog.get(code, to, running.scope), actor, now, forget))
    return MigrationSummary(request, tuple(results))


def _wanted(case: RunningCase, request: MigrationRequest, visible: Callable[[str], bool] | None) -> bool:
    if visible is not None and not visible(case.agency):
        return False
    return not request.agencies or any(covers(code, case.agency) for code in request.agencies)


def _check_map(catalog: ProcedureCatalog, request: MigrationRequest, versions: list[Any],
               selected: list[RunningCase], targets: dict[str, Any]) -> None:
    """The map's old steps against the versions the cases follow (else the --from version, else every
    older version), its new steps against each target version they would move to."""
    if not request.step_map:
        return
    code = request.code
    olds = {(c.version, c.scope) for c in selected} or {
        (row.version, row.scope) for row in versions
        if row.version == request.from_version or (request.from_version is None and row.version != request.to_version)}
    old_definitions = [catalog.get(code, version, scope).definition for version, scope in sorted(olds)]
    from_label = (f"version {request.from_version}" if request.from_version is not None
                  else "the versions the running cases follow") + f" of procedure {code}"
    scopes = {c.scope for c in selected if c.scope in targets} or set(targets)
    for scope in sorted(scopes):
        check_step_map(request.step_map, old_definitions, catalog.get(code, request.to_version, scope).definition,
                       from_label, f"{version_key(code, request.to_version, scope)}")


def _one(engine: Engine, catalog: ProcedureCatalog, calendar: Calendar, request: MigrationRequest,
         running: RunningCase, new: LoadedProcedure, actor: Actor, now: datetime,
         forget: Callable[[str], None] | None) -> CaseMigration:
    """One case in its own transaction: read, plan, and (no dry run, it moves) write; a fault stays it."""
    try:
        with engine.begin() as conn:
            live = load_case(conn, running.case_id, catalog, calendar)
            if live is None:
                return _stay(running, request, UNREADABLE, f"case {running.case_id} is no longer there")
            plan, moved = plan_case(live.handler, new, request.to_version, request.step_map, now)
            if moved is None or request.dry_run:
                return plan
            payload = migration_payload(plan, live.case.procedure_scope, new.scope, request.step_map,
                                        actor.name, actor.role, now)
            write_migration(conn, live, moved, plan, payload, now)
    except (StaleCase, IntegrityError):
        return _stay(running, request, BUSY, f"case {running.case_id} changed while it was being migrated; "
                                             "run the migration again")
    except (WorkingTimeOutOfRange, LookupError, KeyError) as err:
        return _stay(running, request, UNREADABLE, f"case {running.case_id} could not be read: {err}")
    if forget is not None:
        forget(running.case_id)
    return plan


def _stay(running: RunningCase, request: MigrationRequest, code: str, reason: str) -> CaseMigration:
    return CaseMigration(running.case_id, running.agency, request.code, running.version, request.to_version,
                         reason_code=code, reason=reason)
