"""event id conflicts: no schema change

An event id seen again is compared with what was recorded under it by reading the recorded payload
back (journal or parked) and hashing it as ``CaseEvent.fingerprint`` does: only duplicates and
conflicts pay that cost, and every row written before this revision answers without a backfill. The
second payload of a conflict is kept in ``refused_events`` (source ``event id conflict``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from __future__ import annotations

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
