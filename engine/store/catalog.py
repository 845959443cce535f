"""Procedure versions in the database (ISO 9001 clause 7.5: documented, versioned, kept)."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from threading import Lock

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select, update
from sqlmodel.sql.expression import SelectOfScalar

from engine.core.agency import EVERY_AGENCY, MAX_SCOPE_AGENCIES, followed, scope_agencies, scope_key
from engine.core.procedure import LoadedProcedure
from engine.procedures.loader import load_procedure
from engine.store.audit import add_entry
from engine.store.tables import ProcedureVersion

VERSIONS_TTL = 5.0
MAX_FILENAME = 200


class ScopeInvalid(ValueError):
    """A deployment's agencies cannot be kept (too many)."""


@dataclass(frozen=True)
class Deployment:
    code: str
    version: int
    checksum: str
    deployed_at: datetime
    created: bool
    filename: str
    name: str
    scope: str = EVERY_AGENCY

    @property
    def agencies(self) -> tuple[str, ...]:
        return scope_agencies(self.scope)


@dataclass(frozen=True)
class Retirement:
    code: str
    version: int
    scope: str
    retired_at: datetime
    changed: bool


def clean_filename(name: str | None) -> str:
    """A file name safe to keep and to send back in a header: the last path segment, NFC, with
    control and format characters (CR, LF, NUL, bidi marks), quotes and separators replaced; letters
    of any script (Vietnamese names) kept."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c if _filename_char(c) else "_" for c in base).strip(" ._")
    return kept[:MAX_FILENAME] or "upload.bpmn"


def _filename_char(c: str) -> bool:
    if c in ".-_ ()":
        return True
    return unicodedata.category(c)[0] in "LN" or unicodedata.category(c) in ("Mn", "Mc")


def ascii_filename(name: str) -> str:
    """The ASCII fallback of a file name (RFC 6266): accents dropped, đ as d, anything else as _."""
    plain = unicodedata.normalize("NFKD", clean_filename(name).replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in plain if not unicodedata.combining(c))
    return "".join(c if c.isascii() and (c.isalnum() or c in ".-_ ()") else "_" for c in text) or "upload.bpmn"


class ProcedureCatalog:
    """Deploys procedure files as versions and hands out parsed versions, cached."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._loaded: dict[tuple[str, str, int], LoadedProcedure] = {}
        self._versions: dict[str, tuple[float, list[tuple[str, int, datetime, datetime | None]]]] = {}
        self._lock = Lock()

    def deploy(self, source: bytes, filename: str, at: datetime, agencies: Iterable[str] = (),
               within: Callable[[Session, Deployment], None] | None = None) -> Deployment:
        """Store ``source`` as a new version for ``agencies`` (none: every agency) unless it is
        identical to the current version of that code and scope.

        ``within`` runs in the same transaction as the new version's row (e.g. its audit entry),
        so both are written or neither. Raises ``engine.procedures.loader.ProcedureInvalid`` when
        the file is refused, ``ScopeInvalid`` for too many agencies. Agency codes are checked by
        the caller (the API's and CLI's one agency-code check).
        """
        scope = self.scope_of(agencies)
        filename = clean_filename(filename)
        loaded = load_procedure(source, filename)
        code = loaded.definition.code
        with Session(self.engine) as session:
            latest = session.exec(
                select(ProcedureVersion).where(ProcedureVersion.code == code, ProcedureVersion.scope == scope)
                .order_by(col(ProcedureVersion.version).desc()).limit(1)
            ).first()
            if latest is not None and latest.checksum == loaded.checksum and latest.retired_at is None:
                return _deployment(latest, created=False)
            row = ProcedureVersion(
                code=code,
                scope=scope,
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
                self._loaded[(code, scope, row.version)] = replace(loaded, scope=scope)
                self._versions.pop(code, None)
            return _deployment(row, created=True)

    @staticmethod
    def scope_of(agencies: Iterable[str]) -> str:
        """The scope key of a deployment's agencies; ``ScopeInvalid`` beyond ``MAX_SCOPE_AGENCIES``."""
        codes = list(dict.fromkeys(agencies))
        if len(codes) > MAX_SCOPE_AGENCIES:
            raise ScopeInvalid(f"a deployment names at most {MAX_SCOPE_AGENCIES} agencies ({len(codes)} given)")
        return scope_key(codes)

    def versions(self, code: str | None = None) -> list[ProcedureVersion]:
        with Session(self.engine) as session:
            query = select(ProcedureVersion).order_by(col(ProcedureVersion.code), col(ProcedureVersion.scope),
                                                      col(ProcedureVersion.version))
            if code is not None:
                query = query.where(ProcedureVersion.code == code)
            rows = list(session.exec(query).all())
            for row in rows:
                session.expunge(row)
            return rows

    def version(self, code: str, version: int, scope: str = EVERY_AGENCY) -> ProcedureVersion | None:
        with Session(self.engine) as session:
            row = session.exec(_one(code, version, scope)).first()
            if row is not None:
                session.expunge(row)
            return row

    def retire(self, code: str, version: int, at: datetime, scope: str = EVERY_AGENCY,
               within: Callable[[Session, Retirement], None] | None = None) -> Retirement | None:
        """Retire a version (no new case starts on it); None when there is no such version.

        ``within`` runs in the retirement's transaction (its audit entry) only when it changes
        something. The row is updated only while it is not retired, so of two concurrent
        retirements exactly one changes it."""
        with Session(self.engine) as session:
            row = session.exec(_one(code, version, scope)).first()
            if row is None:
                return None
            retirement = Retirement(code, version, scope, row.retired_at or at, changed=row.retired_at is None)
            if retirement.changed:
                result = session.exec(update(ProcedureVersion).where(
                    col(ProcedureVersion.id) == row.id, col(ProcedureVersion.retired_at).is_(None))
                    .values(retired_at=at))
                if result.rowcount != 1:
                    session.rollback()
                    current = session.exec(_one(code, version, scope)).one()
                    assert current.retired_at is not None
                    return Retirement(code, version, scope, current.retired_at, changed=False)
                if within is not None:
                    within(session, retirement)
                session.commit()
            self._versions.pop(code, None)
            return retirement

    def in_force(self, code: str, at: datetime, agency: str | None = None) -> tuple[int, LoadedProcedure] | None:
        """The version a case of ``agency`` received at ``at`` follows (``engine.core.agency.followed``):
        the most specific deployment covering the agency, its newest version deployed at or before
        ``at``. Retired versions take no new case. The returned procedure carries its scope.

        The list of versions is cached for ``VERSIONS_TTL`` seconds (and dropped at once when this
        process deploys or retires).
        """
        chosen = followed(((scope, version, deployed) for scope, version, deployed, retired
                           in self._version_list(code) if retired is None), agency, at)
        if chosen is None:
            return None
        scope, version = chosen
        return version, self.get(code, version, scope)

    def _version_list(self, code: str) -> list[tuple[str, int, datetime, datetime | None]]:
        cached = self._versions.get(code)
        if cached is not None and time.monotonic() - cached[0] < VERSIONS_TTL:
            return cached[1]
        with Session(self.engine) as session:
            rows = session.exec(
                select(ProcedureVersion.scope, ProcedureVersion.version, ProcedureVersion.deployed_at,
                       ProcedureVersion.retired_at)
                .where(ProcedureVersion.code == code)
            ).all()
        listed = [(s, int(v), d, r) for s, v, d, r in rows]
        self._versions[code] = (time.monotonic(), listed)
        return listed

    def get(self, code: str, version: int, scope: str = EVERY_AGENCY) -> LoadedProcedure:
        key = (code, scope, version)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with Session(self.engine) as session:
            row = session.exec(_one(code, version, scope)).one()
            loaded = replace(load_procedure(row.source, row.filename, deployed=True), scope=scope)
        with self._lock:
            self._loaded[key] = loaded
        return loaded

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(ProcedureVersion)).one())


def _one(code: str, version: int, scope: str) -> SelectOfScalar[ProcedureVersion]:
    return select(ProcedureVersion).where(ProcedureVersion.code == code, ProcedureVersion.scope == scope,
                                          ProcedureVersion.version == version)


def _deployment(row: ProcedureVersion, created: bool) -> Deployment:
    return Deployment(code=row.code, version=row.version, checksum=row.checksum, deployed_at=row.deployed_at,
                      created=created, filename=row.filename, name=row.name, scope=row.scope)


def version_key(code: str, version: int, scope: str = EVERY_AGENCY) -> str:
    """How a version is named in the audit log and in messages: ``code/version`` for every agency (as
    before scopes), ``code[agencies]/version`` for a deployment scoped to agencies."""
    return f"{code}/{version}" if scope == EVERY_AGENCY else f"{code}[{scope}]/{version}"


def audit_deployment(session: Session, *, actor: str, role: str, at: datetime, deployment: Deployment) -> None:
    """The audit entry of a new version (the API's and the command line's), in its transaction."""
    add_entry(session, actor=actor, role=role, at=at, action="procedure.deploy", entity="procedure",
              key=version_key(deployment.code, deployment.version, deployment.scope),
              agency=_audit_agency(deployment.scope), before=None,
              after={"code": deployment.code, "version": deployment.version, "scope": deployment.scope,
                     "checksum": deployment.checksum, "filename": deployment.filename})


def audit_retirement(session: Session, *, actor: str, role: str, at: datetime, retirement: Retirement) -> None:
    add_entry(session, actor=actor, role=role, at=at, action="procedure.retire", entity="procedure",
              key=version_key(retirement.code, retirement.version, retirement.scope),
              agency=_audit_agency(retirement.scope), before={"retired_at": None},
              after={"retired_at": retirement.retired_at})


def _audit_agency(scope: str) -> str | None:
    """The audit row's agency: the deployment's one agency, if it names exactly one."""
    agencies = scope_agencies(scope)
    return agencies[0] if len(agencies) == 1 else None
