"""The domain's words for states and answers, as types.

Each is a ``StrEnum``: a member equals its string and serializes as it (JSON, CSV, SQL), so the
stored and published forms are the words of the contract and of the README while the code
compares and dispatches on names that a type checker sees.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    """Where a case stands (contract section 3); the closing ones end it."""

    OPEN = "open"
    SUSPENDED = "suspended"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    RESOLVED = "resolved"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    STOPPED = "stopped"


CLOSED_STATUSES = frozenset({CaseStatus.RETURNED, CaseStatus.WITHDRAWN, CaseStatus.REJECTED, CaseStatus.STOPPED})
# A case still open: its active steps are where it waits (a tuple: the same SQL text each time).
OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.SUSPENDED, CaseStatus.AWAITING_SUPPLEMENT)


class StepStatus(StrEnum):
    """What became of one activation of a step (a row of the process control slip)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    ABANDONED = "abandoned"


class Timeliness(StrEnum):
    """How a step or a case finished against its due (``engine.core.handling.judge``)."""

    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"


class NonconformityStatus(StrEnum):
    """A nonconformity's place in the corrective-action cycle (ISO 9001 clause 10.2,
    ``engine.core.corrective``); ``RETRACTED`` is set only by the engine."""

    OPEN = "open"
    CORRECTION_RECORDED = "correction_recorded"
    CAUSE_ANALYSED = "cause_analysed"
    ACTION_PLANNED = "action_planned"
    ACTION_VERIFIED = "action_verified"
    CLOSED = "closed"
    RETRACTED = "retracted"


class EventOutcome(StrEnum):
    """What became of an event: the answer the sending system gets (the worker's acknowledgement, the API's
    answer, ``eiso ingest``)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    PARKED = "parked"
    REFUSED = "refused"
