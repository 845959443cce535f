"""Console sign-ins, kept server-side (table ``console_session``, migration 0012).

The cookie holds a random secret; the table holds its SHA-256, the identity as signed in and the
CSRF token of the forms. A session ends at sign-out (its row is deleted), at expiry, or, for a
token's user, as soon as the token is revoked or the user disabled: that is checked on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from engine.api.roles import UNSCOPED, Role
from engine.api.scope import AgencyScope
from engine.store.tables_api import ApiToken, ApiUser, ConsoleSession


@dataclass(frozen=True)
class SignedIn:
    """A live console session: who, their scope, the forms' CSRF token."""

    name: str
    role: Role
    scope: AgencyScope
    csrf: str
    expires_at: datetime


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def open_session(engine: Engine, name: str, role: Role, agencies: tuple[str, ...], token_hash: str | None,
                 now: datetime, lifetime: timedelta) -> str:
    """Store a new session; returns the cookie's secret (never stored)."""
    secret = secrets.token_urlsafe(32)
    with Session(engine) as session:
        session.exec(delete(ConsoleSession).where(col(ConsoleSession.expires_at) < now))
        session.add(ConsoleSession(id_hash=_hash(secret), user_name=name, role=role.value, agencies=list(agencies),
                                   token_hash=token_hash, csrf=secrets.token_urlsafe(24), created_at=now,
                                   expires_at=now + lifetime))
        session.commit()
    return secret


def find_session(engine: Engine, secret: str | None, now: datetime) -> SignedIn | None:
    if not secret or len(secret) > 100:
        return None
    with Session(engine) as session:
        row = session.get(ConsoleSession, _hash(secret))
        if row is None or row.expires_at <= now:
            return None
        if row.token_hash is not None and not _token_alive(session, row.token_hash):
            return None
        try:
            role = Role(row.role)
        except ValueError:
            return None
        agencies = tuple(row.agencies)
        scope = AgencyScope(everything=role in UNSCOPED or not agencies, codes=agencies)
        return SignedIn(row.user_name, role, scope, row.csrf, row.expires_at)


def _token_alive(session: Session, token_hash: str) -> bool:
    found = session.exec(
        select(ApiToken.id).join(ApiUser, col(ApiUser.id) == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash, col(ApiToken.revoked_at).is_(None),
               col(ApiUser.disabled_at).is_(None))).first()
    return found is not None


def close_session(engine: Engine, secret: str | None) -> None:
    if not secret or len(secret) > 100:
        return
    with Session(engine) as session:
        session.exec(delete(ConsoleSession).where(col(ConsoleSession.id_hash) == _hash(secret)))
        session.commit()
