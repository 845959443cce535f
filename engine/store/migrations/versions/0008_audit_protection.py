"""audit log protected from the application role

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Migration 0003's row triggers refuse UPDATE and DELETE on ``audit_log``; TRUNCATE fires no row
trigger, so on PostgreSQL it emptied the log. A statement-level BEFORE TRUNCATE trigger now
refuses it with the same message, whoever runs it. The application's role gets no UPDATE,
DELETE or TRUNCATE privilege on the table at all (``engine.store.database.grant_application_role``,
run by ``eiso db upgrade`` as the owning role); only the owner could drop the trigger. SQLite
has no TRUNCATE.
"""
from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The function of migration 0003 raises 'audit_log is append-only'; it serves a statement trigger too.
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
