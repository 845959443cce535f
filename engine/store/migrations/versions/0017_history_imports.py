"""history imports: the record of each import, the source of replayed findings

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

``history_import``: one row per ``eiso history import`` (file, SHA-256, rows, cases, events, the
mapping used, started/finished, actor). ``nonconformity.source``: ``history:<import id>`` for a
finding raised by a replay; NULL (every record before this migration, and every live one) means live.
A plain ADD COLUMN, as 0010 did (no table rebuild on SQLite; the reporting views stay as they are).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.tables import UTCDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'history_import',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('file_name', sa.String(length=500), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False, index=True),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('cases_refused', sa.Integer(), nullable=False),
        sa.Column('mapping', sa.JSON(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('actor', sa.String(length=200), nullable=False),
    )
    op.add_column('nonconformity', sa.Column('source', sa.String(length=60), nullable=True))
    op.create_index('ix_nonconformity_source', 'nonconformity', ['source'])


def downgrade() -> None:
    op.drop_index('ix_nonconformity_source', table_name='nonconformity')
    with op.batch_alter_table('nonconformity', schema=None) as batch_op:
        batch_op.drop_column('source')
    op.drop_table('history_import')
