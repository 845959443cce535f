"""step working time kept at completion

``case_step.worked_seconds``: a completed step's working time in seconds, from its activation to its
completion by the legal calendar (``engine.core.step_time.worked``), written with the step row when
the step completes, so that the reports take medians and 90th percentiles in SQL instead of
counting the calendar in Python for every completed step of a period.

Rows completed before this migration are left NULL: the calendar is the running server's setting,
not the migration's. The readers (``engine.reporting.steps``, the bottleneck report) count a group
that holds such a row in Python as before, so the figures are the same either way; only their
speed differs until those steps leave the periods asked for.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_step') as batch:
        batch.add_column(sa.Column('worked_seconds', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_step') as batch:
        batch.drop_column('worked_seconds')
