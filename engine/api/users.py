"""API users and their tokens: a token is shown once; only its SHA-256 is stored.

A token is ``eiso_`` followed by 32 random bytes in URL-safe base64. It is looked up by its
hash and the stored hash compared in constant time, so neither the database nor the
timing of a refusal tells anything about a valid token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine.api.roles import UNSCOPED, Role
from engine.api.scope import check_code
from engine.store.tables_api import ApiToken, ApiUser, AuditEntry

PREFIX = "eiso_"


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    agencies: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def create_user(engine: Engine, name: str, role: Role, agencies: list[str], now: datetime,
                all_agencies: bool = False, created_by: str = "cli") -> str:
    """Create a user with one token; returns the token (the only time it is seen)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise UserError("a user name is 1 to 200 characters")
    codes = [check_code(code.strip()) for code in agencies]
    if not codes and not all_agencies and role not in UNSCOPED:
        raise UserError(f"a {role.value} is bound to agencies: give --agency CODE (or --all-agencies)")
    if codes and all_agencies:
        raise UserError("--all-agencies and --agency exclude each other")
    token = new_token()
    with Session(engine) as session:
        user = ApiUser(name=name, role=role.value, agencies=codes, created_at=now)
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            raise UserError(f"a user named {name!r} exists already") from None
        assert user.id is not None
        session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=now))
        session.add(AuditEntry(at=now, actor=created_by, actor_role="cli", action="user.create", entity="user",
                               entity_key=name, before=None,
                               after={"role": role.value, "agencies": codes}))
        session.commit()
    return token


def disable_user(engine: Engine, name: str, now: datetime, disabled_by: str = "cli") -> bool:
    with Session(engine) as session:
        user = session.exec(select(ApiUser).where(ApiUser.name == name)).first()
        if user is None:
            return False
        if user.disabled_at is None:
            user.disabled_at = now
            session.add(user)
            session.add(AuditEntry(at=now, actor=disabled_by, actor_role="cli", action="user.disable",
                                   entity="user", entity_key=name, before={"disabled": False},
                                   after={"disabled": True}))
            session.commit()
        return True


def list_users(engine: Engine) -> list[UserInfo]:
    with Session(engine) as session:
        users = session.exec(select(ApiUser).order_by(col(ApiUser.name))).all()
        return [UserInfo(u.name, Role(u.role), tuple(u.agencies), u.created_at, u.disabled_at) for u in users]


def find_by_token(engine: Engine, token: str) -> UserInfo | None:
    """The active user owning ``token``, or None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    wanted = token_hash(token)
    with Session(engine) as session:
        found = session.exec(
            select(ApiToken, ApiUser).join(ApiUser, col(ApiUser.id) == ApiToken.user_id)
            .where(ApiToken.token_hash == wanted)
        ).first()
    if found is None:
        return None
    stored, user = found
    if not hmac.compare_digest(stored.token_hash, wanted):
        return None
    if stored.revoked_at is not None or user.disabled_at is not None:
        return None
    return UserInfo(user.name, Role(user.role), tuple(user.agencies), user.created_at, user.disabled_at)
