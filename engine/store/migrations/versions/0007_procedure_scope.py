"""procedures owned by agency scope

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

A deployment names the agencies it covers (``engine.core.agency.scope_key``: ``*`` for every
agency), and versions are numbered per code and scope. Every existing deployment becomes an
"every agency" one, and every existing case follows an "every agency" version: the server default
``*`` fills both, so what cases follow is unchanged.

``cases`` gets its column by a plain ADD COLUMN (no table rebuild on SQLite: a province's
million cases, and the reporting views over it on PostgreSQL, stay as they are).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SCOPE_LENGTH = 2020  # engine.store.tables.SCOPE_LENGTH when written


def upgrade() -> None:
    with op.batch_alter_table('procedure_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=SCOPE_LENGTH), nullable=False,
                                      server_default='*'))
        batch_op.drop_constraint('uq_procedure_code_version', type_='unique')
        batch_op.create_unique_constraint('uq_procedure_code_scope_version', ['code', 'scope', 'version'])
    op.add_column('cases', sa.Column('procedure_scope', sa.String(length=SCOPE_LENGTH), nullable=False,
                                     server_default='*'))


def downgrade() -> None:
    # Only an "every agency" history can go back: scoped versions would collide on (code, version).
    bind = op.get_bind()
    scoped = bind.execute(sa.text("SELECT count(*) FROM procedure_version WHERE scope <> '*'")).scalar()
    if scoped:
        raise RuntimeError(f"{scoped} procedure version(s) are scoped to agencies: retire and remove them first")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('procedure_scope')
    with op.batch_alter_table('procedure_version', schema=None) as batch_op:
        batch_op.drop_constraint('uq_procedure_code_scope_version', type_='unique')
        batch_op.create_unique_constraint('uq_procedure_code_version', ['code', 'version'])
        batch_op.drop_column('scope')
