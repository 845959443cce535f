"""reporting views from the one on-time definition (PostgreSQL only)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

``v_late_cases`` and ``v_monthly_timeliness`` are redefined from the rule's SQLAlchemy expression
(``engine.reporting.ontime``, compiled by ``engine.reporting.views``) instead of SQL written by hand:
the report, the API, the gauges and these views now share one definition. The monthly view keeps its
columns and meaning (0009); it now yields, for each case, the months it may count in and lets the
rule's expressions decide against each month's bounds.

The SQL below is a frozen copy of ``engine.reporting.views`` as of this revision, not an import:
a migration must define the same views whenever it runs (a fresh database, a downgrade and upgrade
years later), and a change of the rule must reach existing databases through a new revision, which
Alembic can see. tests/reporting/test_views_frozen.py holds the copy equal to the live expression's
output, so a change of the rule cannot slip past it. The zone is the calendar's when this runs (as in 0009).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

LATE_CASES = """
    SELECT c.case_id, c.agency, c.procedure, c.procedure_version, c.status,
           c.received_at, c.due_at, c.promised_at, c.extended_due_at,
           now() - c.due_at AS overdue_for, c.last_event_at
    FROM cases c
    WHERE (c.received_at IS NOT NULL AND c.received_at < now() AND c.due_at IS NOT NULL AND c.due_at < now()
        AND (c.resolved_at IS NULL OR c.resolved_at >= now()) AND (c.closed_at IS NULL OR c.closed_at >=
        now()))"""
MONTHLY = """
    SELECT m.month_start AS month, c.agency, c.procedure,
           count(*) FILTER (WHERE (c.resolved_at IS NOT NULL AND c.resolved_at >= m.month_start AND
               c.resolved_at IS NOT NULL AND c.resolved_at < m.month_end)) AS resolved,
           count(*) FILTER (WHERE (c.resolved_at IS NOT NULL AND c.resolved_at >= m.month_start AND
               c.resolved_at IS NOT NULL AND c.resolved_at < m.month_end AND c.timeliness IN ('early'))) AS
               early,
           count(*) FILTER (WHERE (c.resolved_at IS NOT NULL AND c.resolved_at >= m.month_start AND
               c.resolved_at IS NOT NULL AND c.resolved_at < m.month_end AND (c.timeliness IN ('on_time') OR
               c.timeliness IS NULL))) AS on_time,
           count(*) FILTER (WHERE (c.resolved_at IS NOT NULL AND c.resolved_at >= m.month_start AND
               c.resolved_at IS NOT NULL AND c.resolved_at < m.month_end AND c.timeliness IN ('late'))) AS
               late,
           count(*) FILTER (WHERE (c.received_at IS NOT NULL AND c.received_at < m.month_end AND c.due_at IS
               NOT NULL AND c.due_at < m.month_end AND (c.resolved_at IS NULL OR c.resolved_at >= m.month_end)
               AND (c.closed_at IS NULL OR c.closed_at >= m.month_end))) AS open_overdue,
           count(*) AS judged,
           round((count(*) FILTER (WHERE (c.resolved_at IS NOT NULL AND c.resolved_at >= m.month_start AND
               c.resolved_at IS NOT NULL AND c.resolved_at < m.month_end AND c.timeliness IN ('early') OR
               c.resolved_at IS NOT NULL AND c.resolved_at >= m.month_start AND c.resolved_at IS NOT NULL AND
               c.resolved_at < m.month_end AND (c.timeliness IN ('on_time') OR c.timeliness IS
               NULL))))::numeric / count(*), 4) AS on_time_ratio
    FROM cases c
    CROSS JOIN LATERAL generate_series(
        date_trunc('month', least(c.resolved_at, CASE WHEN c.due_at IS NOT NULL
                                                      THEN greatest(c.received_at, c.due_at) END)
                            AT TIME ZONE {zone}),
        date_trunc('month', least(coalesce(c.resolved_at, c.closed_at, now()), now()) AT TIME ZONE {zone}),
        interval '1 month') AS s(local_month)
    CROSS JOIN LATERAL (SELECT s.local_month AT TIME ZONE {zone} AS month_start,
                               least((s.local_month + interval '1 month') AT TIME ZONE {zone}, now()) AS
                                   month_end) m
    WHERE (c.resolved_at IS NOT NULL OR c.due_at IS NOT NULL) AND (c.resolved_at IS NOT NULL AND c.resolved_at
        >= m.month_start AND c.resolved_at IS NOT NULL AND c.resolved_at < m.month_end OR c.received_at IS NOT
        NULL AND c.received_at < m.month_end AND c.due_at IS NOT NULL AND c.due_at < m.month_end AND
        (c.resolved_at IS NULL OR c.resolved_at >= m.month_end) AND (c.closed_at IS NULL OR c.closed_at >=
        m.month_end))
    GROUP BY 1, 2, 3"""


def _revision_0009() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "eiso_0009", Path(__file__).with_name("0009_reporting_views_definition.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _define(late_cases: str, monthly: str) -> None:
    previous = _revision_0009()  # its zone check and its grant, one home for each
    zone = previous._zone()
    op.execute(f"CREATE OR REPLACE VIEW v_late_cases AS {late_cases}")
    op.execute("DROP VIEW IF EXISTS v_monthly_timeliness")
    op.execute(f"CREATE VIEW v_monthly_timeliness AS {monthly.format(zone=zone)}")
    previous._grant("v_late_cases, v_monthly_timeliness")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _define(LATE_CASES, MONTHLY)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    previous = _revision_0009()
    _define(previous._LATE_CASES, previous._MONTHLY)
