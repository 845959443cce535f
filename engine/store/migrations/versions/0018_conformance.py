"""conformance of cases to their procedure: an index on the cases' closing instant

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01

Conformance (issue 14) is computed from the rows the store already keeps (``case_step``, and the
``unknown_step`` nonconformities), never stored: a case's steps are its trace, and each report replays
the cases *closed* in its period (``engine.reporting.conformance``). What they lacked is a way to find
those cases without reading the whole table: the metrics exporter counts this month's closed cases at
every scrape (``eiso_cases_conforming_ratio``, recomputed only when that count changes), and the
report, the API and ``eiso conformance`` select by ``closed_at``. Both dialects.
"""
from __future__ import annotations

from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_closed_at', 'cases', ['closed_at'])


def downgrade() -> None:
    op.drop_index('ix_cases_closed_at', table_name='cases')
