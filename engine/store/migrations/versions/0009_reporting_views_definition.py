"""reporting views by the report's definition, months as timestamptz (PostgreSQL only)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

The views of 0004 disagreed with ``eiso report`` and with each other:

- months were timestamps without time zone (local midnight), which Grafana reads as UTC: seven
  hours off, so the monthly trend fell outside the default range. ``month`` is now the
  ``timestamptz`` of the first instant of the month in the calendar's zone;
- a case awaiting a supplement (its clock stopped, no due) was "late now" because the watcher had
  flagged it once. Late now is the report's "open overdue" (engine/reports.py, the collector's
  ``open_overdue``): received, with a due, the due passed, neither resolved nor closed;
- the monthly trend counted resolved cases only. It now counts each month as
  ``eiso report --from <first of the month> --to <first of the next, or now>`` does: resolved in
  the month (without a timeliness: on time) and open past their due at the month's end.

The zone is the calendar's (``EISO_CALENDAR_TIMEZONE``, default Asia/Ho_Chi_Minh) when this revision
runs: a view is a stored query, so a later change of the variable needs the views defined again
(``alembic downgrade 0008`` then ``eiso db upgrade``, as the owning role).
"""
from __future__ import annotations

import re

from alembic import op
from sqlalchemy import text

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_LATE_CASES = """
    SELECT c.case_id, c.agency, c.procedure, c.procedure_version, c.status,
           c.received_at, c.due_at, c.promised_at, c.extended_due_at,
           now() - c.due_at AS overdue_for, c.last_event_at
    FROM cases c
    WHERE c.received_at < now() AND c.due_at IS NOT NULL AND c.due_at < now()
      AND (c.resolved_at IS NULL OR c.resolved_at >= now())
      AND (c.closed_at IS NULL OR c.closed_at >= now())"""
_OVERDUE_STEPS = """
    SELECT s.case_id, s.agency, s.procedure, s.step, s.unit, s.activated_at, s.started_at, s.due_at,
           now() - s.due_at AS overdue_for
    FROM case_step s
    WHERE s.status = 'active' AND s.running AND s.due_at IS NOT NULL AND s.due_at < now()"""
# A month's end is the first instant of the next month in the zone, or now for the current month.
_MONTHLY = """
    WITH resolved AS (
        SELECT date_trunc('month', c.resolved_at AT TIME ZONE {zone}) AS local_month, c.agency, c.procedure,
               count(*) AS resolved,
               count(*) FILTER (WHERE c.timeliness = 'early') AS early,
               count(*) FILTER (WHERE c.timeliness = 'on_time' OR c.timeliness IS NULL) AS on_time,
               count(*) FILTER (WHERE c.timeliness = 'late') AS late
        FROM cases c
        WHERE c.resolved_at IS NOT NULL AND c.resolved_at < now()
        GROUP BY 1, 2, 3
    ), open_overdue AS (
        -- Only cases late at some month's end yield rows: one per month from the one their due passed
        -- to the one they were resolved or closed (or now), each checked against that month's end.
        SELECT m.local_month, c.agency, c.procedure, count(*) AS open_overdue
        FROM cases c
        CROSS JOIN LATERAL generate_series(
            date_trunc('month', greatest(c.received_at, c.due_at) AT TIME ZONE {zone}),
            date_trunc('month', least(c.resolved_at, c.closed_at, now()) AT TIME ZONE {zone}),
            interval '1 month') AS m(local_month)
        CROSS JOIN LATERAL (SELECT least((m.local_month + interval '1 month') AT TIME ZONE {zone}, now())
                            AS month_end) e
        WHERE c.due_at IS NOT NULL
          AND greatest(c.received_at, c.due_at) < e.month_end
          AND coalesce(least(c.resolved_at, c.closed_at), 'infinity'::timestamptz) >= e.month_end
        GROUP BY 1, 2, 3
    )
    SELECT local_month AT TIME ZONE {zone} AS month, agency, procedure,
           coalesce(r.resolved, 0) AS resolved, coalesce(r.early, 0) AS early,
           coalesce(r.on_time, 0) AS on_time, coalesce(r.late, 0) AS late,
           coalesce(o.open_overdue, 0) AS open_overdue,
           coalesce(r.resolved, 0) + coalesce(o.open_overdue, 0) AS judged,
           round((coalesce(r.early, 0) + coalesce(r.on_time, 0))::numeric
                 / (coalesce(r.resolved, 0) + coalesce(o.open_overdue, 0)), 4) AS on_time_ratio
    FROM resolved r FULL JOIN open_overdue o USING (local_month, agency, procedure)"""
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")


def _zone() -> str:
    from zoneinfo import ZoneInfo

    from engine.settings import CalendarSettings

    name = CalendarSettings().timezone
    if not _ZONE_NAME.fullmatch(name):
        raise ValueError(f"EISO_CALENDAR_TIMEZONE {name!r} is not a time zone name")
    ZoneInfo(name)  # a zone Python knows, or an error here rather than in every dashboard query
    known = op.get_bind().execute(text("SELECT count(*) FROM pg_timezone_names WHERE name = :n"), {"n": name})
    if not known.scalar():
        raise ValueError(f"PostgreSQL does not know the time zone {name!r} (EISO_CALENDAR_TIMEZONE)")
    return f"'{name}'"


def _grant(names: str) -> None:
    op.execute(f"""
        DO $$ BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eiso_reporting') THEN
            GRANT SELECT ON {names} TO eiso_reporting;
          END IF;
        END $$""")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    zone = _zone()
    op.execute(f"CREATE OR REPLACE VIEW v_late_cases AS {_LATE_CASES}")
    op.execute(f"CREATE OR REPLACE VIEW v_overdue_steps AS {_OVERDUE_STEPS}")
    op.execute("DROP VIEW IF EXISTS v_monthly_timeliness")  # a column changes type: replacing is refused
    op.execute(f"CREATE VIEW v_monthly_timeliness AS {_MONTHLY.format(zone=zone)}")
    _grant("v_late_cases, v_overdue_steps, v_monthly_timeliness")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("eiso_0004", Path(__file__).with_name("0004_reporting_views.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    previous = module.VIEWS
    op.execute("DROP VIEW IF EXISTS v_monthly_timeliness")
    for name in ("v_late_cases", "v_overdue_steps", "v_monthly_timeliness"):
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {previous[name]}")
    _grant("v_late_cases, v_overdue_steps, v_monthly_timeliness")
