"""The reporting views' SQL (PostgreSQL), derived from the on-time rule of ``ontime``.

Grafana reads these views as the read-only role ``eiso_reporting``. Their predicates are the rule's
SQLAlchemy expressions compiled for PostgreSQL; only the months (a calendar zone's months, the
current one ending now) are written here. Migration 0011 keeps a frozen copy of this text (a
migration must define the same views whenever it runs); tests/reporting/test_views_frozen.py fails
when the rule changes and the copy does not, which is the cue for a new migration.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, func, literal_column, table
from sqlalchemy.dialects import postgresql

from engine.reporting import ontime

_CASES = table("cases", *(column(name) for name in (
    "received_at", "due_at", "resolved_at", "closed_at", "timeliness"))).alias("c")

# SQLAlchemy leaves its dialects' constructors unannotated.
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def _sql(term: ontime.Term, start: Any, end: Any) -> str:
    expression = ontime.sql(term, _CASES.c, start, end)
    text = expression.compile(dialect=_POSTGRESQL, compile_kwargs={"literal_binds": True})
    return f"({text})"  # whole, whatever surrounds it


def late_cases() -> str:
    """Open cases past their due now: the report's "open overdue" at now()."""
    return f"""
    SELECT c.case_id, c.agency, c.procedure, c.procedure_version, c.status,
           c.received_at, c.due_at, c.promised_at, c.extended_due_at,
           now() - c.due_at AS overdue_for, c.last_event_at
    FROM cases c
    WHERE {_sql(ontime.OPEN_OVERDUE, None, func.now())}"""


def monthly_timeliness() -> str:
    """Each month as ``eiso report --from <its first day> --to <the next month's, or now>`` counts it.

    ``{zone}`` stands for the calendar's zone, a quoted SQL literal. A case yields a row for each
    month it may count in (from its due's month, or its resolution's, to its resolution or closure,
    at most now); the rule's expressions then decide, against that month's bounds, what it counts as.
    """
    bounds: tuple[Any, Any] = literal_column("m.month_start"), literal_column("m.month_end")
    count = {name: _sql(term, *bounds) for name, term in ontime.COUNTS.items() if name != "received"}
    judged, in_time = _sql(ontime.JUDGED, *bounds), _sql(ontime.IN_TIME, *bounds)
    return f"""
    SELECT m.month_start AS month, c.agency, c.procedure,
           count(*) FILTER (WHERE {count["resolved"]}) AS resolved,
           count(*) FILTER (WHERE {count["early"]}) AS early,
           count(*) FILTER (WHERE {count["on_time"]}) AS on_time,
           count(*) FILTER (WHERE {count["late"]}) AS late,
           count(*) FILTER (WHERE {count["open_overdue"]}) AS open_overdue,
           count(*) AS judged,
           round((count(*) FILTER (WHERE {in_time}))::numeric / count(*), 4) AS on_time_ratio
    FROM cases c
    CROSS JOIN LATERAL generate_series(
        date_trunc('month', least(c.resolved_at, CASE WHEN c.due_at IS NOT NULL
                                                      THEN greatest(c.received_at, c.due_at) END)
                            AT TIME ZONE {{zone}}),
        date_trunc('month', least(coalesce(c.resolved_at, c.closed_at, now()), now()) AT TIME ZONE {{zone}}),
        interval '1 month') AS s(local_month)
    CROSS JOIN LATERAL (SELECT s.local_month AT TIME ZONE {{zone}} AS month_start,
                               least((s.local_month + interval '1 month') AT TIME ZONE {{zone}}, now()) AS month_end) m
    WHERE (c.resolved_at IS NOT NULL OR c.due_at IS NOT NULL) AND {judged}
    GROUP BY 1, 2, 3"""


def views() -> dict[str, str]:
    """The views this module defines, by name (``{zone}`` still to fill in the monthly one)."""
    return {"v_late_cases": late_cases(), "v_monthly_timeliness": monthly_timeliness()}
