"""the national catalogue of administrative procedures

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

``eiso catalogue import`` keeps the national database's procedures here (``engine.store.catalogue``):
one row per code and effective date, with the published time limit as published and as working time.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.store.tables

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalogue_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('sector', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('time_limit', sa.Text(), nullable=False),
    sa.Column('limit_duration', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('limit_seconds', sa.Integer(), nullable=True),
    sa.Column('limit_note', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('limit_problem', sa.Text(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('abolished', sa.Boolean(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('imported_at', engine.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code', 'effective_date', name='uq_catalogue_entry_code_effective')
    )
    with op.batch_alter_table('catalogue_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_entry_code'), ['code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('catalogue_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_entry_code'))
    op.drop_table('catalogue_entry')
