"""The national catalogue of administrative procedures (table ``catalogue_entry``, migration 0013).

One row per procedure code and effective date, as imported from the national database's export by
``eiso catalogue import`` (``engine.application.catalogue``).  The published time limit is kept as
published (``time_limit``) and, when it reads as working time (``engine.core.published_limit``), as a
working duration and its working seconds; a limit stored unknown (``--allow-unreadable``) keeps the
reason instead (``limit_problem``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, Engine, Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from engine.store.tables import UTCDateTime

__all__ = ["CatalogueEntry", "CatalogueRecord", "Written", "catalogue_entries", "upsert_catalogue"]


class CatalogueEntry(SQLModel, table=True):
    """A procedure of the national catalogue, as in force from ``effective_date``."""

    __tablename__ = "catalogue_entry"
    __table_args__ = (UniqueConstraint("code", "effective_date", name="uq_catalogue_entry_code_effective"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, index=True)
    effective_date: date
    name: str = Field(sa_column=Column(Text, nullable=False))
    level: str | None = Field(default=None, max_length=200)
    sector: str | None = Field(default=None, max_length=500)
    time_limit: str = Field(sa_column=Column(Text, nullable=False))
    limit_duration: str | None = Field(default=None, max_length=40)
    limit_seconds: int | None = None
    limit_note: str | None = Field(default=None, max_length=64)
    limit_problem: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str | None = Field(default=None, max_length=200)
    abolished: bool = False
    source: str = Field(max_length=500)
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True)
class CatalogueRecord:
    """One checked row of an import: what a ``catalogue_entry`` row holds, less its bookkeeping."""

    code: str
    effective_date: date
    name: str
    level: str | None
    sector: str | None
    time_limit: str
    limit_duration: str | None
    limit_seconds: int | None
    limit_note: str | None
    limit_problem: str | None
    status: str | None
    abolished: bool


_COMPARED = ("name", "level", "sector", "time_limit", "limit_duration", "limit_seconds", "limit_note",
             "limit_problem", "status", "abolished")


@dataclass(frozen=True)
class Written:
    inserted: int
    updated: int
    unchanged: int


def upsert_catalogue(engine: Engine, records: Sequence[CatalogueRecord], source: str, at: datetime) -> Written:
    """Insert or update ``records`` by code and effective date, all in one transaction."""
    inserted = updated = unchanged = 0
    with Session(engine) as session, session.begin():
        codes = sorted({r.code for r in records})
        existing: dict[tuple[str, date], CatalogueEntry] = {}
        for start in range(0, len(codes), 500):
            chunk = codes[start:start + 500]
            for entry in session.exec(select(CatalogueEntry).where(col(CatalogueEntry.code).in_(chunk))):
                existing[(entry.code, entry.effective_date)] = entry
        for record in records:
            found = existing.get((record.code, record.effective_date))
            if found is None:
                session.add(CatalogueEntry(code=record.code, effective_date=record.effective_date,
                                           source=source[:500], imported_at=at,
                                           **{name: getattr(record, name) for name in _COMPARED}))
                inserted += 1
            elif all(getattr(found, name) == getattr(record, name) for name in _COMPARED):
                unchanged += 1
            else:
                for name in _COMPARED:
                    setattr(found, name, getattr(record, name))
                found.source = source[:500]
                found.imported_at = at
                session.add(found)
                updated += 1
    return Written(inserted, updated, unchanged)


def catalogue_entries(engine: Engine, code: str | None = None) -> list[CatalogueEntry]:
    """Every entry (or ``code``'s), by code then effective date."""
    with Session(engine) as session:
        query = select(CatalogueEntry)
        if code is not None:
            query = query.where(CatalogueEntry.code == code)
        query = query.order_by(col(CatalogueEntry.code), col(CatalogueEntry.effective_date))
        return list(session.exec(query).all())
