"""A nonconformity's version for compare-and-set: the id of its latest audit entry (0 before any).

Every corrective-action change writes exactly one audit entry in its own transaction, so the
latest entry's id changes with every change and never goes back: it needs no column of its
own. Clients read it as the ``version`` field or the ``ETag`` of ``GET /nonconformities/{key}``
and send it back as ``If-Match``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from engine.api.errors import ApiError
from engine.store.tables_api import AuditEntry

ENTITY = "nonconformity"
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}")$'
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


def latest(column: Any) -> Any:
    """SQL for the version of the nonconformity whose key is ``column`` (a correlated subquery)."""
    return (select(func.coalesce(func.max(AuditEntry.id), 0))
            .where(AuditEntry.entity == ENTITY, col(AuditEntry.entity_key) == column).scalar_subquery())


def current(session: Session, key: str) -> int:
    found = session.exec(select(func.max(AuditEntry.id)).where(AuditEntry.entity == ENTITY,
                                                               AuditEntry.entity_key == key)).one()
    return int(found or 0)


def tag(version: int) -> str:
    return f'"{version}"'


def expected(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names; None without one (``*`` matches any version)."""
    if if_match is None or if_match.strip() == "*":
        return None
    if not _IF_MATCH.match(if_match.strip()):  # the schema says so too; this guards other callers
        raise ApiError(422, 'If-Match must be the ETag of GET /nonconformities/{key}, e.g. "42"')
    return int(if_match.strip().removeprefix("W/").strip('"'))
