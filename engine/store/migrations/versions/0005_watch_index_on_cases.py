"""indexes for a province's million cases: the watcher's on case clocks, open cases by agency

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

The watcher asks for running, unflagged case clocks due before an instant, and for the next such
due. With only ``ix_cases_due_at`` that range also walks every resolved, closed and already
flagged case whose due has passed, so a pass grew with the history; ``ix_cases_watch``, like
``ix_case_step_watch`` on the steps, keeps it to the rows that are actually due.

An agency's open (and late) cases: an agency code covers the codes ending with its suffix
(``engine.api.scope``), which PostgreSQL matches as a prefix of ``reverse(agency)``;
``ix_cases_open_agency_due`` holds the open cases by reversed agency and due, so a page of one
agency's late cases reads that agency's late cases only. PostgreSQL only (an expression index
with an operator class); SQLite serves the demo and keeps the plain ``LIKE``.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_watch', ['clock_running', 'overdue_flagged', 'due_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index('ix_cases_open_agency_due', 'cases',
                        [sa.text('reverse(agency) text_pattern_ops'), sa.text('due_at')],
                        postgresql_where=sa.text('resolved_at IS NULL AND closed_at IS NULL'))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_cases_open_agency_due', table_name='cases')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_watch')
