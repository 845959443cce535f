"""Moved to ``engine.core.corrective`` (the pure ISO 10.2 state machine) and ``engine.core.states``
(its statuses); kept so existing imports work."""

from engine.core.corrective import CYCLE, STATUSES, Command, Step, TransitionRefused, allowed, next_status
from engine.core.states import NonconformityStatus

OPEN = NonconformityStatus.OPEN
CORRECTION_RECORDED = NonconformityStatus.CORRECTION_RECORDED
CAUSE_ANALYSED = NonconformityStatus.CAUSE_ANALYSED
ACTION_PLANNED = NonconformityStatus.ACTION_PLANNED
ACTION_VERIFIED = NonconformityStatus.ACTION_VERIFIED
CLOSED = NonconformityStatus.CLOSED
RETRACTED = NonconformityStatus.RETRACTED

__all__ = ["ACTION_PLANNED", "ACTION_VERIFIED", "CAUSE_ANALYSED", "CLOSED", "CORRECTION_RECORDED", "CYCLE", "OPEN",
           "RETRACTED", "STATUSES", "Command", "Step", "TransitionRefused", "allowed", "next_status"]
