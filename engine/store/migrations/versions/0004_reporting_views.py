"""reporting views for Grafana (PostgreSQL only)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

Read-only views over the case, step and nonconformity rows: the lists of individual late cases
belong in a table, not in metric labels. Grafana's PostgreSQL datasource reads them as the role
``eiso_reporting`` when it exists (docker-compose creates it at the database's first start;
``GRANT`` is skipped otherwise). Months are counted in Vietnam's time zone. SQLite gets none:
it serves the demo, not dashboards.
"""
from __future__ import annotations

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ZONE = "'Asia/Ho_Chi_Minh'"
VIEWS = {
    # Open cases past their due instant (found by the watcher or not yet).
    "v_late_cases": """
        SELECT c.case_id, c.agency, c.procedure, c.procedure_version, c.status,
               c.received_at, c.due_at, c.promised_at, c.extended_due_at,
               now() - c.due_at AS overdue_for, c.last_event_at
        FROM cases c
        WHERE c.status IN ('open', 'suspended', 'awaiting_supplement')
          AND (c.overdue_flagged OR c.due_at < now())""",
    # Active steps past their due instant: where late cases wait, and at which unit.
    "v_overdue_steps": """
        SELECT s.case_id, s.agency, s.procedure, s.step, s.unit, s.activated_at, s.started_at, s.due_at,
               now() - s.due_at AS overdue_for
        FROM case_step s
        WHERE s.status = 'active' AND (s.overdue_flagged OR (s.running AND s.due_at < now()))""",
    # Cases resolved after their due, with the delay in working hours.
    "v_cases_resolved_late": """
        SELECT c.case_id, c.agency, c.procedure, c.received_at, c.due_at, c.resolved_at,
               round(c.delay_seconds / 3600.0, 2) AS delay_working_hours
        FROM cases c
        WHERE c.timeliness = 'late'""",
    # Timeliness by calendar month (Vietnam time), agency and procedure: the trend for leaders.
    "v_monthly_timeliness": f"""
        SELECT date_trunc('month', c.resolved_at AT TIME ZONE {ZONE}) AS month, c.agency, c.procedure,
               count(*) AS resolved,
               count(*) FILTER (WHERE c.timeliness = 'early') AS early,
               count(*) FILTER (WHERE c.timeliness = 'on_time') AS on_time,
               count(*) FILTER (WHERE c.timeliness = 'late') AS late,
               round(count(*) FILTER (WHERE c.timeliness IN ('early', 'on_time'))::numeric / count(*), 4)
                   AS on_time_ratio
        FROM cases c
        WHERE c.resolved_at IS NOT NULL AND c.timeliness IS NOT NULL
        GROUP BY 1, 2, 3""",
    # Each step's completed runs against their allowance: the bottleneck table.
    "v_step_timeliness": """
        SELECT s.agency, s.procedure, s.step, count(*) AS completed,
               count(*) FILTER (WHERE s.timeliness = 'late') AS late,
               round(avg(coalesce(s.delay_seconds, 0)) FILTER (WHERE s.timeliness = 'late') / 3600.0, 2)
                   AS mean_delay_working_hours
        FROM case_step s
        WHERE s.status = 'completed'
        GROUP BY 1, 2, 3""",
    "v_open_nonconformities": """
        SELECT n.key, n.type, n.case_id, n.agency, n.procedure, n.step, n.due_at, n.actual_at,
               round(n.delay_seconds / 3600.0, 2) AS delay_working_hours, n.detected_at
        FROM nonconformity n
        WHERE n.status = 'open'""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, body in VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
    names = ", ".join(VIEWS)
    op.execute(f"""
        DO $$ BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eiso_reporting') THEN
            GRANT SELECT ON {names} TO eiso_reporting;
          END IF;
        END $$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
