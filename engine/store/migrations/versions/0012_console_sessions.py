"""web console sessions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

The console (``eiso serve`` at ``/``) keeps its sign-ins server-side: a row per signed-in browser,
keyed by the SHA-256 of the cookie's secret, deleted at sign-out and ignored once expired.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.store.tables

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_session',
    sa.Column('id_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('agencies', sa.JSON(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('csrf', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', engine.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_session_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_session_expires_at'))
    op.drop_table('console_session')
