"""Which agencies a user sees: agency codes and the rule of "a code covers the codes below it".

Agency codes (mã định danh, e.g. ``000.00.12.H10``) read from right to left, from the
province down: ``H10`` a province, ``000.00.12.H10`` its department 12, ``000.31.12.H10``
unit 31 of that department, ``001.31.12.H10`` a part of that unit. A segment of zeros means
"no unit at this level".

The rule: strip a code's leading all-zero segments; what remains is its suffix. A code
covers every code with the same number of segments that ends with that suffix. So
``000.00.12.H10`` covers ``000.00.12.H10``, ``000.31.12.H10`` and ``001.31.12.H10``, not
``000.00.13.H10``; ``000.31.12.H10`` covers ``007.31.12.H10`` but not ``000.00.12.H10``; a
code with no leading zero segment covers only itself. Comparison is exact (case-sensitive).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, false, func, literal, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

MAX_CODE = 100
_BLANK = re.compile(r"^0+$")
_CODE = re.compile(r"^[^\s%_\\]+$")


class BadAgencyCode(ValueError):
    pass


def check_code(code: str) -> str:
    """``code`` if it is a usable agency code, else ``BadAgencyCode`` saying why."""
    if not code or len(code) > MAX_CODE or not _CODE.match(code):
        raise BadAgencyCode(f"agency code {code!r}: 1 to {MAX_CODE} characters, no spaces, no % _ or \\")
    segments = code.split(".")
    if any(not s for s in segments):
        raise BadAgencyCode(f"agency code {code!r}: empty segment")
    if all(_BLANK.match(s) for s in segments):
        raise BadAgencyCode(f"agency code {code!r}: every segment is zero")
    return code


def _split(code: str) -> tuple[int, tuple[str, ...]]:
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
    count, suffix = _split(code)
    segments = other.split(".")
    return len(segments) == count and tuple(segments[count - len(suffix):]) == suffix


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ends_with(FunctionElement[bool]):  # noqa: N801 (an SQL function's name)
    """``ends_with(column, '%.suffix', 'xiffus.%')``: the column ends with the suffix.

    SQLite: ``column LIKE '%.suffix'``. PostgreSQL: ``reverse(column) LIKE 'xiffus.%'``, a prefix
    match that the index on ``reverse(agency)`` (migration 0005) answers without reading every case.
    """

    type = Boolean()
    inherit_cache = True
    name = "ends_with"


@compiles(ends_with)
def _ends_with_like(element: ends_with, compiler: Any, **kw: Any) -> str:
    column, pattern, _ = list(element.clauses)
    return f"({compiler.process(column, **kw)} LIKE {compiler.process(pattern, **kw)} ESCAPE '\\')"


@compiles(ends_with, "postgresql")
def _ends_with_reversed(element: ends_with, compiler: Any, **kw: Any) -> str:
    column, _, reversed_pattern = list(element.clauses)
    return f"(reverse({compiler.process(column, **kw)}) LIKE {compiler.process(reversed_pattern, **kw)} ESCAPE '\\')"


def code_clause(code: str, column: Any) -> ColumnElement[bool]:
    """SQL for ``covers(code, column)``, the same answer on SQLite and PostgreSQL."""
    count, suffix = _split(code)
    if len(suffix) == count:
        return column == code
    dots = func.length(column) - func.length(func.replace(column, ".", ""))
    tail = "." + ".".join(suffix)
    ending = ends_with(column, literal("%" + _escape_like(tail)), literal(_escape_like(tail[::-1]) + "%"))
    return and_(ending, dots == count - 1)  # the code itself ends with its suffix too: one indexable test


@dataclass(frozen=True)
class AgencyScope:
    """Every agency (``everything``), or those covered by one of ``codes``."""

    everything: bool
    codes: tuple[str, ...] = ()

    @classmethod
    def of(cls, codes: Iterable[str], everything: bool = False) -> AgencyScope:
        codes = tuple(dict.fromkeys(codes))
        return cls(everything=everything or not codes, codes=codes)

    def covers(self, agency: str | None) -> bool:
        if self.everything:
            return True
        return agency is not None and any(covers(code, agency) for code in self.codes)

    def clause(self, column: Any) -> ColumnElement[bool]:
        if self.everything:
            return true()
        if not self.codes:
            return false()
        return or_(*(code_clause(code, column) for code in self.codes))


EVERY_AGENCY = AgencyScope(everything=True)
