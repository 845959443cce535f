"""Agency codes and the one rule of "a code covers the codes below it", and the agencies a
procedure deployment covers.

Agency codes (mã định danh, e.g. ``000.00.12.H10``) read from right to left, from the
province down: ``H10`` a province, ``000.00.12.H10`` its department 12, ``000.31.12.H10``
unit 31 of that department, ``001.31.12.H10`` a part of that unit. A segment of zeros means
"no unit at this level".

The rule: strip a code's leading all-zero segments; what remains is its suffix. A code
covers every code with the same number of segments that ends with that suffix. So
``000.00.12.H10`` covers ``000.00.12.H10``, ``000.31.12.H10`` and ``001.31.12.H10``, not
``000.00.13.H10``; ``000.31.12.H10`` covers ``007.31.12.H10`` but not ``000.00.12.H10``; a
code with no leading zero segment covers only itself. Comparison is exact (case-sensitive).

Used by the API's agency scope (``engine.api.scope``) and by the procedure catalog, which must
agree on who is covered: this module is the rule's one home.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

_BLANK = re.compile(r"^0+$")

EVERY_AGENCY = "*"
"""The scope key of a deployment that covers every agency."""

MAX_SCOPE_AGENCIES = 20


def split(code: str) -> tuple[int, tuple[str, ...]]:
    """The number of segments and the suffix left after the leading zero segments."""
    segments = code.split(".")
    blank = 0
    while blank < len(segments) - 1 and _BLANK.match(segments[blank]):
        blank += 1
    return len(segments), tuple(segments[blank:])


def covers(code: str, other: str) -> bool:
    """Whether agency ``code`` covers agency ``other`` (itself or a code below it)."""
    if code == other:
        return True
    count, suffix = split(code)
    segments = other.split(".")
    return len(segments) == count and tuple(segments[count - len(suffix):]) == suffix


def depth(code: str) -> int:
    """How narrow ``code`` is: the length of its suffix. Of two codes covering one agency, the
    deeper covers fewer agencies (its suffix is the longer one)."""
    return len(split(code)[1])


def scope_key(agencies: Iterable[str]) -> str:
    """The canonical key of a deployment's agencies: ``*`` for none (every agency), else the codes
    not covered by another of them, sorted and joined by commas, so that one set of agencies is one
    key (and versions are numbered per code and key)."""
    codes = sorted(set(agencies))
    kept = [c for c in codes if not any(o != c and covers(o, c) for o in codes)]
    return ",".join(kept) if kept else EVERY_AGENCY


def scope_agencies(key: str) -> tuple[str, ...]:
    """The agency codes of a scope key; empty for every agency."""
    return () if key == EVERY_AGENCY else tuple(key.split(","))


def scope_depth(key: str, agency: str) -> int | None:
    """How specifically scope ``key`` covers ``agency``: 0 for every agency, else the depth of its
    narrowest code covering the agency; None when it does not cover it."""
    if key == EVERY_AGENCY:
        return 0
    depths = [depth(code) for code in scope_agencies(key) if covers(code, agency)]
    return max(depths) if depths else None


def concerns(key: str, codes: Iterable[str]) -> bool:
    """Whether a deployment of scope ``key`` concerns a user bound to agency ``codes``: it covers
    every agency, covers one of theirs (their cases may follow it), or names an agency they cover.
    Another agency's own procedures are neither listed nor read by them."""
    if key == EVERY_AGENCY:
        return True
    mine = tuple(codes)
    return any(covers(code, own) or covers(own, code) for code in scope_agencies(key) for own in mine)


def followed(versions: Iterable[tuple[str, int, datetime]], agency: str | None, at: datetime
             ) -> tuple[str, int] | None:
    """The (scope, version) a case of ``agency`` received at ``at`` follows, among ``versions``
    (scope key, version, deployed at) in force (not retired); None when no version covers it.

    The most specific scope covering the agency with a version deployed at or before ``at``, and
    that scope's newest such version. Ties between equally specific scopes (two deployments naming
    codes of the same depth that both cover the agency) go to the scope whose version was deployed
    last, then to the smaller scope key, so the answer never depends on the order rows are read.
    A case older than every covering deployment (a backfill) follows the first version of the most
    specific covering scope. Without an agency only "every agency" versions count.
    """
    by_scope: dict[str, list[tuple[int, datetime]]] = {}
    depths: dict[str, int] = {}
    for scope, version, deployed in versions:
        found = scope_depth(scope, agency) if agency is not None else (0 if scope == EVERY_AGENCY else None)
        if found is None:
            continue
        depths[scope] = found
        by_scope.setdefault(scope, []).append((version, deployed))
    if not by_scope:
        return None
    started = {scope: max(v for v in listed if v[1] <= at) for scope, listed in by_scope.items()
               if any(deployed <= at for _, deployed in listed)}
    if started:
        best = min(started, key=lambda s: (-depths[s], -started[s][1].timestamp(), s))
        return best, started[best][0]
    best = min(by_scope, key=lambda s: (-depths[s], s))
    return best, min(version for version, _ in by_scope[best])
