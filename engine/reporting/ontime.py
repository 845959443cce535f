"""The on-time rule, written once (domain.md, "What leaders look at"; the report's definition).

Over a period [start, end): a case is *resolved* when resolved in the period, and then early, on
time or late (a resolved case without a timeliness counts on time); it is *open overdue* when,
at the period's end, it was received, had a due that had passed, and was neither resolved nor
closed (a case awaiting a supplement or suspended has its clock stopped and no due: not late).
late = resolved late + open overdue; judged = resolved + open overdue; in time = early + on time;
on-time rate = in time / judged.

Each fact is a small term (a comparison of one of the case's instants with a bound of the period).
The same terms are evaluated two ways: ``holds`` on a case row in Python (``eiso report``) and ``sql``
as a SQLAlchemy expression over the cases table (the metrics collector, the reporting views of
migration 0011, and ``sums``: the API's attainment, counted in SQL). Nothing else restates the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, Label, and_, case, false, func, or_, true

from engine.core.states import Timeliness

Bound = Literal["start", "end"]


@dataclass(frozen=True)
class Before:
    """The instant is known and before the bound."""
    column: str
    bound: Bound


@dataclass(frozen=True)
class AtOrAfter:
    """The instant is known and at or after the bound."""
    column: str
    bound: Bound


@dataclass(frozen=True)
class NotBefore:
    """The instant is unknown (not happened) or at or after the bound: "not yet, at the bound"."""
    column: str
    bound: Bound


@dataclass(frozen=True)
class TimelinessIn:
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class All:
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Term, ...]


Term = Before | AtOrAfter | NotBefore | TimelinessIn | All | AnyOf

# The definition.
RECEIVED = All((AtOrAfter("received_at", "start"), Before("received_at", "end")))
RESOLVED = All((AtOrAfter("resolved_at", "start"), Before("resolved_at", "end")))
OPEN_OVERDUE = All((Before("received_at", "end"), Before("due_at", "end"), NotBefore("resolved_at", "end"),
                    NotBefore("closed_at", "end")))
RESOLVED_EARLY = All((RESOLVED, TimelinessIn((Timeliness.EARLY,))))
RESOLVED_ON_TIME = All((RESOLVED, TimelinessIn((Timeliness.ON_TIME, None))))  # no timeliness recorded: on time
RESOLVED_LATE = All((RESOLVED, TimelinessIn((Timeliness.LATE,))))
IN_TIME = AnyOf((RESOLVED_EARLY, RESOLVED_ON_TIME))
JUDGED = AnyOf((RESOLVED, OPEN_OVERDUE))

# The counts of a report row, in the report's order; each one a term.
COUNTS: dict[str, Term] = {
    "received": RECEIVED, "resolved": RESOLVED, "early": RESOLVED_EARLY, "on_time": RESOLVED_ON_TIME,
    "late": RESOLVED_LATE, "open_overdue": OPEN_OVERDUE,
}


def holds(term: Term, case: Any, start: datetime, end: datetime) -> bool:
    """The term on one case row (any object with the cases table's attributes)."""
    if isinstance(term, All):
        return all(holds(t, case, start, end) for t in term.terms)
    if isinstance(term, AnyOf):
        return any(holds(t, case, start, end) for t in term.terms)
    if isinstance(term, TimelinessIn):
        return case.timeliness in term.values
    value = getattr(case, term.column)
    bound = start if term.bound == "start" else end
    if isinstance(term, Before):
        return value is not None and value < bound
    if isinstance(term, AtOrAfter):
        return value is not None and value >= bound
    return value is None or value >= bound


def sql(term: Term, columns: Any, start: Any, end: Any) -> ColumnElement[bool]:
    """The term as a SQLAlchemy expression over ``columns`` (a table's or alias's ``.c``).

    ``start`` and ``end`` are datetimes or SQL expressions (a view's month bounds). Every comparison
    tests for NULL itself, so the expression is true or false, never unknown, wherever it is used.
    """
    if isinstance(term, All):
        return and_(true(), *(sql(t, columns, start, end) for t in term.terms))
    if isinstance(term, AnyOf):
        return or_(false(), *(sql(t, columns, start, end) for t in term.terms))
    if isinstance(term, TimelinessIn):
        column = columns["timeliness"]
        known = [str(v) for v in term.values if v is not None]  # plain text: a view's untyped column renders it
        clauses = [column.in_(known)] if known else []
        if None in term.values:
            clauses.append(column.is_(None))
        return or_(false(), *clauses)
    column = columns[term.column]
    bound = start if term.bound == "start" else end
    if isinstance(term, Before):
        return and_(column.is_not(None), column < bound)
    if isinstance(term, AtOrAfter):
        return and_(column.is_not(None), column >= bound)
    return or_(column.is_(None), column >= bound)


def counts(case: Any, start: datetime, end: datetime) -> dict[str, int]:
    """What one case adds to a report row over [start, end): 1 or 0 for each of ``COUNTS``."""
    return {name: int(holds(term, case, start, end)) for name, term in COUNTS.items()}


def sums(columns: Any, start: Any, end: Any, suffix: str = "") -> list[Label[Any]]:
    """``counts`` added up over a SQL group: for each of ``COUNTS``, the number of its rows the term holds
    for (``sql``), labelled with the count's name and ``suffix``."""
    return [func.sum(case((sql(term, columns, start, end), 1), else_=0)).label(f"{name}{suffix}")
            for name, term in COUNTS.items()]


def rate(in_time: int, judged: int) -> float | None:
    """The on-time rate (None when nothing was judged), rounded as every JSON answer carries it."""
    return round(in_time / judged, 4) if judged else None


def meets(in_time: int, judged: int, objective: float) -> bool | None:
    """Whether the objective is met, judged on the exact rate (never on a rounded one)."""
    return in_time / judged >= objective if judged else None


def summary(row: Mapping[str, int], objective: float) -> dict[str, Any]:
    """A row's rate and verdict from its counts: (early + on time) / (resolved + open overdue)."""
    in_time, judged = row["early"] + row["on_time"], row["resolved"] + row["open_overdue"]
    return {"on_time_rate": rate(in_time, judged), "meets_objective": meets(in_time, judged, objective)}


def shown_percent(row: Mapping[str, Any], objective: float | None) -> Decimal | None:
    """The rate of a row as a percentage to one decimal, for people (CSV, XLSX, tables).

    Rounded half up (94.77 % reads 94.8 %), except that a rate below the objective never reads as
    reaching it: 94.96 % against 95 % reads 94.9 %, not 95.0 %. Computed from the counts, not from
    the JSON's rounded ratio, so that the verdict and the figure agree.
    """
    in_time, judged = row["early"] + row["on_time"], row["resolved"] + row["open_overdue"]
    if not judged:
        return None
    exact = Decimal(in_time) / Decimal(judged) * 100
    shown = exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if objective is not None and exact < Decimal(str(objective)) * 100 <= shown:
        shown = exact.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return shown
