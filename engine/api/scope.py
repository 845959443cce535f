"""Which agencies a user sees: their agency codes, and SQL for the one rule of "a code covers the
codes below it" (the rule itself, and what it means for agency codes, lives in ``engine.core.agency``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, false, func, literal, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from engine.core.agency import covers
from engine.core.agency import split as _split
from engine.core.events import check_agency_code

MAX_CODE = 100


class BadAgencyCode(ValueError):
    pass


def check_code(code: str) -> str:
    """``code`` if it is an agency code (``AGENCY_CODE_PATTERN``, e.g. 000.00.12.H10), else ``BadAgencyCode``.

    The one format of events, users, tokens and query filters: a code that no event can carry
    would only ever select nothing.
    """
    problem = check_agency_code(code) if isinstance(code, str) else "an agency code is text"
    if problem is not None:
        raise BadAgencyCode(problem)
    return code


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
        whole: ColumnElement[bool] = column == code
        return whole
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
