"""Moved to the application layer: ``engine.application.ingest`` (the ingest use case, ``CaseService``),
``engine.application.watch`` (the watcher) and ``engine.store.case_store`` (their SQL).

The names are re-exported here so that ``from engine.service import X`` keeps working for the
worker, the API, the CLI, the monitoring, bench/ and the tests.
"""

from __future__ import annotations

from engine.application.ingest import (
    APPLY_ATTEMPTS,
    PARKED_PAGE,
    RETRY_PAUSE_MAX_SECONDS,
    RETRY_PAUSE_SECONDS,
    CaseService,
    ingest_lines,
)
from engine.application.outcomes import CONFLICT_REASON, CaseBusy, Outcome
from engine.application.watch import WAKE_AFTER_DUE, WATCH_BATCH, WatchResult, pause_until
from engine.core.clock import Clock
from engine.core.states import EventOutcome
from engine.store.case_store import (
    DUE_CASES,
    DUE_STEPS,
    FLAG_STEPS,
    NEXT_CASE_DUE,
    NEXT_STEP_DUE,
    REFUSED_TABLE,
)

# The outcomes by their former names (``engine.core.states.EventOutcome``).
APPLIED, DUPLICATE, PARKED, REFUSED = (EventOutcome.APPLIED, EventOutcome.DUPLICATE, EventOutcome.PARKED,
                                       EventOutcome.REFUSED)

__all__ = [
    "APPLIED", "APPLY_ATTEMPTS", "CONFLICT_REASON", "DUE_CASES", "DUE_STEPS", "DUPLICATE", "FLAG_STEPS",
    "NEXT_CASE_DUE", "NEXT_STEP_DUE", "PARKED", "PARKED_PAGE", "REFUSED", "REFUSED_TABLE", "RETRY_PAUSE_MAX_SECONDS",
    "RETRY_PAUSE_SECONDS", "WAKE_AFTER_DUE", "WATCH_BATCH", "CaseBusy", "CaseService", "Clock", "Outcome",
    "WatchResult", "ingest_lines", "pause_until",
]
