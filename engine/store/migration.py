"""The store's side of migrating running cases to a new procedure version.

A migrated case is written like an applied event: a journal row (type ``case_migrated``, not a contract
event: its payload names the versions, the step map, who and when), the case row, its step rows and a
snapshot taken at that journal row, so a load starts from the migrated state; and an audit-log row, all in
one transaction. ``engine.store.cases.rebuild`` also replays the row (``engine.core.migration.replay``) should a case
ever be rebuilt from a journal older than its snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, select
from sqlmodel import Session

from engine.core.handling import CaseHandler
from engine.core.migration import CASE_MIGRATED, CaseMigration
from engine.store.audit import add_entry
from engine.store.cases import CASES, LiveCase
from engine.store.catalog import version_key
from engine.store.writes import Writes

__all__ = ["CASE_MIGRATED", "RunningCase", "migration_payload", "running_cases", "write_migration"]


@dataclass(frozen=True)
class RunningCase:
    case_id: str
    agency: str
    version: int
    scope: str


def running_cases(conn: Connection, code: str, from_version: int | None) -> list[RunningCase]:
    """The cases of ``code`` not closed (of ``from_version`` when given), by case id."""
    query = (select(CASES.c.case_id, CASES.c.agency, CASES.c.procedure_version, CASES.c.procedure_scope)
             .where(CASES.c.procedure == code, CASES.c.closed_at.is_(None)).order_by(CASES.c.case_id))
    if from_version is not None:
        query = query.where(CASES.c.procedure_version == from_version)
    return [RunningCase(r.case_id, r.agency, int(r.procedure_version), r.procedure_scope)
            for r in conn.execute(query)]


def migration_payload(plan: CaseMigration, from_scope: str, to_scope: str, step_map: Mapping[str, str],
                      actor: str, role: str, at: datetime) -> dict[str, Any]:
    """The journal row's payload: enough to replay the move (versions, scopes, map) and to show it."""
    return {
        "case_id": plan.case_id, "procedure": plan.procedure,
        "from_version": plan.from_version, "to_version": plan.to_version,
        "from_scope": from_scope, "to_scope": to_scope, "map": dict(step_map),
        "actor": {"name": actor, "role": role}, "at": at.isoformat(),
        "reason": f"migrated from version {plan.from_version} to version {plan.to_version}",
        "steps": [{"seq": m.seq, "step": m.step, "new_step": m.new_step,
                   "due_before": m.due_before.isoformat() if m.due_before else None,
                   "due_after": m.due_after.isoformat() if m.due_after else None} for m in plan.steps],
    }


def write_migration(conn: Connection, live: LiveCase, moved: CaseHandler, plan: CaseMigration,
                    payload: dict[str, Any], now: datetime) -> None:
    """Journal row, case row, every step row and a snapshot, then the audit row: in ``conn``'s transaction.

    Raises ``engine.store.cases.StaleCase`` when another writer changed the case since it was read.
    """
    writes = Writes(now=now)
    index = writes.journal_row(event_id=f"eiso:migration:{uuid4()}", case_id=plan.case_id, type_=CASE_MIGRATED,
                               occurred_at=now, payload=payload, notes=[payload["reason"]])
    migrated = LiveCase(moved, event_count=live.event_count, since_snapshot=0)  # every step row written again
    writes.case(migrated, index, snapshot_every=1)
    writes.flush(conn, None)
    actor = payload["actor"]
    with Session(bind=conn) as session:
        add_entry(session, actor=actor["name"], role=actor["role"], at=now, action="case.migrate", entity="case",
                  key=plan.case_id, agency=live.case.agency,
                  before={"procedure": plan.procedure,
                          "version": version_key(plan.procedure, plan.from_version, payload["from_scope"])},
                  after={"procedure": plan.procedure,
                         "version": version_key(plan.procedure, plan.to_version, payload["to_scope"]),
                         "steps": payload["steps"], "map": payload["map"]})
        session.flush()

