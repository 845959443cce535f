"""Roles and who may do what; one table, read by the routers and the authorization tests."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    admin = "admin"
    process_owner = "process_owner"
    iso_secretary = "iso_secretary"
    leader = "leader"
    auditor = "auditor"
    connector = "connector"


A, PO, SEC, LEAD, AUD, CONN = (Role.admin, Role.process_owner, Role.iso_secretary, Role.leader, Role.auditor,
                               Role.connector)

# Roles that see every agency whatever codes they are bound to.
UNSCOPED = frozenset({A, AUD})

EVERYONE = frozenset(Role)
READERS = frozenset({A, PO, SEC, LEAD, AUD})
PROCEDURE_WRITERS = frozenset({A, PO})
# Correction, root cause and corrective action: the people who run the process.
NC_WORKERS = frozenset({A, PO, SEC})
# Verification of effectiveness and closing: someone other than the action's owner, as a rule.
NC_VERIFIERS = frozenset({A, SEC, LEAD})
AUDIT_READERS = frozenset({A, AUD, SEC, LEAD})
INGESTERS = frozenset({A, CONN})
