"""A nonconformity's version for compare-and-set, in HTTP: the ``ETag`` and ``If-Match`` headers.

The version itself is the store's (``engine.store.corrective``: the id of its latest audit entry).
Clients read it as the ``version`` field or the ``ETag`` of ``GET /nonconformities/{key}`` and
send it back as ``If-Match``.
"""

from __future__ import annotations

import re

from engine.api.errors import ApiError
from engine.store.corrective import ENTITY, current, latest

__all__ = ["ENTITY", "IF_MATCH_PATTERN", "current", "expected", "latest", "tag"]

IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}")$'
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


def tag(version: int) -> str:
    return f'"{version}"'


def expected(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names; None without one (``*`` matches any version)."""
    if if_match is None or if_match.strip() == "*":
        return None
    if not _IF_MATCH.match(if_match.strip()):  # the schema says so too; this guards other callers
        raise ApiError(422, 'If-Match must be the ETag of GET /nonconformities/{key}, e.g. "42"')
    return int(if_match.strip().removeprefix("W/").strip('"'))
