"""indexes for the console's pages at a million cases: the agency scope on cases, steps, nonconformities

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

A user bound to a commune or a district sees the agencies whose code ends with its suffix
(``engine.api.scope``), which PostgreSQL tests as a prefix of ``reverse(agency)``. Only the open cases
had an index for it (``ix_cases_open_agency_due``, 0005), so every other scoped read went through a
whole table: the cases list and its count (all statuses), a version's step statistics, a step's overdue
cases and the bottleneck report (``case_step``, four million rows), the nonconformity worklist, whose
planner, without statistics on ``reverse(agency)``, also sorted every record of a department on disk
instead of walking ``detected_at``. Measured by ``bench/console_pages.py`` (BENCHMARKS.md): one commune's
case count went from 135 ms to 2 ms, its step statistics from 500 ms to 30-50 ms, a department's
worklist from 390 ms to 35 ms.

``ix_cases_agency_reversed`` carries ``agency`` so that counting a scope's cases reads the index only;
``received_at`` orders a scope's list and bounds a report's period. ``ix_case_step_agency_reversed``
adds the procedure and step of a version's statistics and of a step's overdue list;
``ix_nonconformity_agency_reversed`` the detection time the worklist is ordered by. ``ANALYZE`` gives
the planner the expressions' statistics at once. PostgreSQL only, like 0005 (expression indexes with
an operator class); SQLite serves the demo and keeps the plain ``LIKE``.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

REVERSED = sa.text('reverse(agency) text_pattern_ops')


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.create_index('ix_cases_agency_reversed', 'cases', [REVERSED, sa.text('received_at')],
                    postgresql_include=['agency'])
    op.create_index('ix_case_step_agency_reversed', 'case_step', [REVERSED, sa.text('procedure'), sa.text('step')])
    op.create_index('ix_nonconformity_agency_reversed', 'nonconformity', [REVERSED, sa.text('detected_at')])
    op.execute('ANALYZE cases, case_step, nonconformity')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_nonconformity_agency_reversed', table_name='nonconformity')
    op.drop_index('ix_case_step_agency_reversed', table_name='case_step')
    op.drop_index('ix_cases_agency_reversed', table_name='cases')
