"""Where a nonconformity comes from, as a filter: ``live`` (source NULL), ``history`` (any replay,
``history:<import id>``), one import (``history:<import id>``), or ``all``.

The one rule for every list and report that can include or exclude replayed findings.
"""

from __future__ import annotations

import re
from typing import Any

SOURCES = ("live", "history", "all")
HISTORY_PREFIX = "history:"
# What a filter may name (an import id is ``YYYYmmddTHHMMSS-<sha256 prefix>[-n]``); the API's pattern too.
SOURCE_PATTERN = r"^(live|history|all|history:[0-9A-Za-z-]{1,50})$"


def check_source(which: str) -> str:
    """``which`` if it names sources, else ``ValueError`` saying what would."""
    if re.fullmatch(SOURCE_PATTERN, which):
        return which
    raise ValueError(f"source {which!r}: expected live, history, history:<import id> or all")


def source_clause(column: Any, which: str | None) -> Any | None:
    """The WHERE clause on a ``nonconformity.source`` column for ``which``; None: no filter (``all``)."""
    if which is None or check_source(which) == "all":
        return None
    if which == "live":
        return column.is_(None)
    if which == "history":
        return column.like(HISTORY_PREFIX + "%")
    return column == which
