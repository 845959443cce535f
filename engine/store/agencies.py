"""The agency code history (table ``agency_code``, migration 0016) and re-pointing rows to successors.

One row per agency code: its name, validity ``[valid_from, valid_to)`` and successor, with who
imported it and when (``eiso agencies import``, ``engine.application.agencies``). An import writes
its rows, moves the cases, steps and nonconformities of codes already closed to their current code
(a case keeps the code it was received with in ``cases.agency_original``) and adds its audit entry,
all in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Engine, Table, func, update
from sqlmodel import Field, Session, SQLModel, col, select

from engine.core.agency_history import AgencyCode, AgencyHistory
from engine.store.audit import add_entry
from engine.store.tables import CaseRow, CaseStepRow, NonconformityRow, UTCDateTime

__all__ = ["AgencyCodeRow", "ImportRecord", "Saved", "load_history", "save_history", "stored_codes"]

_CASES: Table = CaseRow.__table__  # type: ignore[attr-defined]
_STEPS: Table = CaseStepRow.__table__  # type: ignore[attr-defined]
_NCS: Table = NonconformityRow.__table__  # type: ignore[attr-defined]


class AgencyCodeRow(SQLModel, table=True):
    """An agency code with its validity and successor."""

    __tablename__ = "agency_code"

    code: str = Field(primary_key=True, max_length=100)
    name: str = Field(default="", max_length=500)
    valid_from: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    valid_to: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    successor: str | None = Field(default=None, max_length=100, index=True)
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    imported_by: str = Field(max_length=200)
    source: str = Field(max_length=500)


_COMPARED = ("name", "valid_from", "valid_to", "successor")


@dataclass(frozen=True)
class ImportRecord:
    """Who imported which file (for the audit entry)."""

    actor: str
    role: str
    source: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class Saved:
    inserted: int
    updated: int
    unchanged: int
    cases: int  # rows moved to a successor code
    steps: int
    nonconformities: int


def stored_codes(engine: Engine) -> list[AgencyCodeRow]:
    with Session(engine) as session:
        return list(session.exec(select(AgencyCodeRow).order_by(col(AgencyCodeRow.code))).all())


def load_history(engine: Engine) -> AgencyHistory:
    return AgencyHistory(as_code(row) for row in stored_codes(engine))


def as_code(row: AgencyCodeRow) -> AgencyCode:
    return AgencyCode(row.code, row.name, row.valid_from, row.valid_to, row.successor)


def save_history(engine: Engine, codes: Sequence[AgencyCode], history: AgencyHistory, at: datetime,
                 record: ImportRecord) -> Saved:
    """Upsert ``codes`` by code, move the rows of codes closed at ``at`` to their current code in
    ``history`` (the stored codes with these), and audit the import: one transaction."""
    inserted = updated = unchanged = 0
    with Session(engine) as session, session.begin():
        existing = {row.code: row for row in session.exec(select(AgencyCodeRow))}
        for code in codes:
            values: dict[str, Any] = {"name": code.name, "valid_from": code.valid_from, "valid_to": code.valid_to,
                                      "successor": code.successor}
            found = existing.get(code.code)
            if found is None:
                session.add(AgencyCodeRow(code=code.code, imported_at=at, imported_by=record.actor[:200],
                                          source=record.source[:500], **values))
                inserted += 1
            elif all(getattr(found, name) == values[name] for name in _COMPARED):
                unchanged += 1
            else:
                for name in _COMPARED:
                    setattr(found, name, values[name])
                found.imported_at, found.imported_by, found.source = at, record.actor[:200], record.source[:500]
                session.add(found)
                updated += 1
        session.flush()
        moved = repoint(session, history, at)
        saved = Saved(inserted, updated, unchanged, *moved)
        add_entry(session, actor=record.actor, role=record.role, at=at, action="agency_history.import",
                  entity="agency_history", key=record.source[:400], agency=None, before=None,
                  after={"file": record.source, "sha256": record.sha256, "rows": record.rows,
                         "inserted": inserted, "updated": updated, "unchanged": unchanged,
                         "cases_moved": saved.cases, "steps_moved": saved.steps,
                         "nonconformities_moved": saved.nonconformities})
    return saved


def repoint(session: Session, history: AgencyHistory, at: datetime) -> tuple[int, int, int]:
    """Move cases, steps and nonconformities of every code closed at ``at`` to the code standing for it."""
    cases = steps = ncs = 0
    for code in sorted(history.codes):
        target = history.resolve(code, at)
        if target == code:
            continue
        cases += _count(session.execute(update(_CASES).where(_CASES.c.agency == code).values(
            agency=target, agency_original=func.coalesce(_CASES.c.agency_original, _CASES.c.agency))))
        steps += _count(session.execute(update(_STEPS).where(_STEPS.c.agency == code).values(agency=target)))
        ncs += _count(session.execute(update(_NCS).where(_NCS.c.agency == code).values(agency=target)))
    return cases, steps, ncs


def _count(result: Any) -> int:
    return int(result.rowcount or 0)
