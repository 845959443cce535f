"""Agency codes as events and cases meet them: the history applied on the way in (``CaseService``).

An event is applied under the code that stands for its own at the instant it occurred
(``AgencyHistory.resolve``): sent with a code closed by then that names a successor, it is applied to
the successor; the journal keeps the event as applied plus ``agency_original``, the code it was sent
with (its fingerprint, for duplicates, is the event as sent). A case moves forward along the chain at
each event and each watcher pass (the code standing for its own at that instant), keeping the code it
was received with in ``agency_original``; its steps and nonconformities move with it. An event of a
case already moved on, sent with a predecessor's code (it occurred before the closing, or the sender
still uses the old code), is applied to the case's code.

The history is read from the store and kept ``refresh_seconds`` (a running worker sees a new import
within that time); ``invalidate`` drops it at once (the import in the same process).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from engine.core.agency_history import EMPTY_HISTORY, AgencyHistory
from engine.core.events import CaseEvent
from engine.store.cases import LiveCase

__all__ = ["AgencyCodes", "as_applied", "follow", "journal_payload"]

REFRESH_SECONDS = 10.0


class AgencyCodes:
    """The agency code history the service resolves with (``load``: the store's; None: no history)."""

    def __init__(self, load: Callable[[], AgencyHistory] | None, refresh_seconds: float = REFRESH_SECONDS):
        self._load = load
        self.refresh_seconds = refresh_seconds
        self._history: AgencyHistory | None = None
        self._read_at = 0.0

    def history(self) -> AgencyHistory:
        if self._load is None:
            return EMPTY_HISTORY
        now = time.monotonic()
        if self._history is None or now - self._read_at >= self.refresh_seconds:
            self._history = self._load()
            self._read_at = now
        return self._history

    def invalidate(self) -> None:
        self._history = None


def as_applied(event: CaseEvent, history: AgencyHistory, case_agency: str | None = None,
               case_received: str | None = None) -> CaseEvent:
    """``event`` with the code it is applied under (itself when nothing changes).

    ``case_agency``: the code of the event's case once moved on (None for a receipt of a new case);
    ``case_received``: the code it was received with. An event naming a code the case has carried along its
    chain, dated before that code closed, is applied to the case's code; another agency's code is not."""
    if not history:
        return event
    agency = history.resolve(event.agency, event.occurred_at)
    if (case_agency is not None and agency != case_agency and case_agency in history.chain(agency)
            and agency in history.chain(case_received or case_agency)):
        agency = case_agency  # a case already moved on; the event still names a predecessor
    return event if agency == event.agency else replace(event, agency=agency)


def follow(live: LiveCase, history: AgencyHistory, at: datetime) -> bool:
    """Move the case to the code standing for its own at ``at``; True when it moved. Its steps are then
    all written again, and its nonconformity records carry the new code (the caller writes them)."""
    if not history:
        return False
    case = live.case
    target = history.resolve(case.agency, at)
    if target == case.agency:
        return False
    if case.agency_original is None:
        case.agency_original = case.agency
    case.agency = target
    case.nonconformities = {key: record.evolve(agency=target) for key, record in case.nonconformities.items()}
    live.written_steps.clear()
    return True


def journal_payload(applied: CaseEvent, sent: CaseEvent) -> dict[str, object]:
    """The journal's payload: the event as applied, with the code it was sent with when that differs."""
    payload: dict[str, object] = applied.to_dict()
    if applied.agency != sent.agency:
        payload["agency_original"] = sent.agency
    return payload
