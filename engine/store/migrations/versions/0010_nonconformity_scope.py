"""nonconformities name the procedure scope

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Versions are numbered per code and scope (0007), so a record's procedure code and version no longer
say which procedure was broken: each nonconformity now names its case's scope. Existing records take
their case's ``procedure_scope``; the server default ``*`` (every agency) covers the rest, which is what
every record raised before 0007 was. Only the records of scoped cases are updated, so a province's
history of every-agency records is not rewritten.

A plain ADD COLUMN, as 0007 did for ``cases`` (no table rebuild on SQLite; the reporting views over
``nonconformity`` on PostgreSQL stay as they are).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SCOPE_LENGTH = 2020  # engine.store.tables.SCOPE_LENGTH when written


def upgrade() -> None:
    op.add_column('nonconformity', sa.Column('procedure_scope', sa.String(length=SCOPE_LENGTH), nullable=False,
                                             server_default='*'))
    op.execute(
        "UPDATE nonconformity SET procedure_scope = "
        "(SELECT cases.procedure_scope FROM cases WHERE cases.case_id = nonconformity.case_id) "
        "WHERE case_id IN (SELECT case_id FROM cases WHERE procedure_scope <> '*')"
    )


def downgrade() -> None:
    with op.batch_alter_table('nonconformity', schema=None) as batch_op:
        batch_op.drop_column('procedure_scope')
