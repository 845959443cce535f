"""Procedure versions in the database (ISO 9001 clause 7.5: documented, versioned, kept)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from threading import Lock

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from engine.core.procedure import LoadedProcedure
from engine.procedures.loader import load_procedure
from engine.store.tables import ProcedureVersion

VERSIONS_TTL = 5.0


@dataclass(frozen=True)
class Deployment:
    code: str
    version: int
    checksum: str
    deployed_at: datetime
    created: bool
    filename: str
    name: str


class ProcedureCatalog:
    """Deploys procedure files as versions and hands out parsed versions, cached."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._loaded: dict[tuple[str, int], LoadedProcedure] = {}
        self._versions: dict[str, tuple[float, list[tuple[int, datetime, datetime | None]]]] = {}
        self._lock = Lock()

    def deploy(self, source: bytes, filename: str, at: datetime,
               within: Callable[[Session, Deployment], None] | None = None) -> Deployment:
        """Store ``source`` as a new version unless it is identical to the current one.

        ``within`` runs in the same transaction as the new version's row (e.g. its audit entry),
        so both are written or neither. Raises ``engine.procedures.loader.ProcedureInvalid`` when
        the file is refused.
        """
        loaded = load_procedure(source, filename)
        code = loaded.definition.code
        with Session(self.engine) as session:
            latest = session.exec(
                select(ProcedureVersion).where(ProcedureVersion.code == code)
                .order_by(col(ProcedureVersion.version).desc()).limit(1)
            ).first()
            if latest is not None and latest.checksum == loaded.checksum and latest.retired_at is None:
                return _deployment(latest, created=False)
            row = ProcedureVersion(
                code=code,
                version=(latest.version + 1) if latest is not None else 1,
                process_id=loaded.definition.process_id,
                name=loaded.definition.name,
                filename=filename,
                checksum=loaded.checksum,
                statutory_limit_seconds=loaded.definition.statutory_limit_seconds,
                source=source,
                deployed_at=at,
            )
            session.add(row)
            session.flush()
            if within is not None:
                within(session, _deployment(row, created=True))
            session.commit()
            session.refresh(row)
            with self._lock:
                self._loaded[(code, row.version)] = loaded
                self._versions.pop(code, None)
            return _deployment(row, created=True)

    def versions(self, code: str | None = None) -> list[ProcedureVersion]:
        with Session(self.engine) as session:
            query = select(ProcedureVersion).order_by(col(ProcedureVersion.code), col(ProcedureVersion.version))
            if code is not None:
                query = query.where(ProcedureVersion.code == code)
            rows = list(session.exec(query).all())
            for row in rows:
                session.expunge(row)
            return rows

    def retire(self, code: str, version: int, at: datetime) -> bool:
        with Session(self.engine) as session:
            row = session.exec(
                select(ProcedureVersion).where(ProcedureVersion.code == code, ProcedureVersion.version == version)
            ).first()
            if row is None:
                return False
            if row.retired_at is None:
                row.retired_at = at
                session.add(row)
                session.commit()
            self._versions.pop(code, None)
            return True

    def in_force(self, code: str, at: datetime) -> tuple[int, LoadedProcedure] | None:
        """The version a case received at ``at`` follows.

        The newest version deployed at or before ``at``; for a case older than every
        deployment (a backfill), the first version. Retired versions take no new case.
        The list of versions is cached for ``VERSIONS_TTL`` seconds (and dropped at once
        when this process deploys or retires).
        """
        open_versions = [(version, deployed) for version, deployed, retired in self._version_list(code)
                         if retired is None]
        if not open_versions:
            return None
        before = [version for version, deployed in open_versions if deployed <= at]
        version = max(before) if before else min(v for v, _ in open_versions)
        return version, self.get(code, version)

    def _version_list(self, code: str) -> list[tuple[int, datetime, datetime | None]]:
        cached = self._versions.get(code)
        if cached is not None and time.monotonic() - cached[0] < VERSIONS_TTL:
            return cached[1]
        with Session(self.engine) as session:
            rows = session.exec(
                select(ProcedureVersion.version, ProcedureVersion.deployed_at, ProcedureVersion.retired_at)
                .where(ProcedureVersion.code == code)
            ).all()
        listed = [(int(v), d, r) for v, d, r in rows]
        self._versions[code] = (time.monotonic(), listed)
        return listed

    def get(self, code: str, version: int) -> LoadedProcedure:
        key = (code, version)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with Session(self.engine) as session:
            row = session.exec(
                select(ProcedureVersion).where(ProcedureVersion.code == code, ProcedureVersion.version == version)
            ).one()
            loaded = load_procedure(row.source, row.filename)
        with self._lock:
            self._loaded[key] = loaded
        return loaded

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(ProcedureVersion)).one())


def _deployment(row: ProcedureVersion, created: bool) -> Deployment:
    return Deployment(code=row.code, version=row.version, checksum=row.checksum, deployed_at=row.deployed_at,
                      created=created, filename=row.filename, name=row.name)
