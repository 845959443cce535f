"""agency code history

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

``eiso agencies import`` keeps the history of agency codes here (``engine.store.agencies``): each
code's validity and successor (Decision 09/2025/QĐ-TTg). A case applied to a successor code keeps
the code it was received with in ``cases.agency_original`` (NULL: the same as ``agency``).
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.store.tables

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agency_code',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('valid_from', engine.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_to', engine.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('successor', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('imported_at', engine.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    with op.batch_alter_table('agency_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_code_successor'), ['successor'], unique=False)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_original', sqlmodel.sql.sqltypes.AutoString(length=100),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('agency_original')
    with op.batch_alter_table('agency_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_code_successor'))
    op.drop_table('agency_code')
