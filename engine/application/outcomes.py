"""What became of an event: the answer the sending system gets, and the reasons it can get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.core.handling import Timing
from engine.core.nonconformities import Nonconformity
from engine.core.states import EventOutcome

# An event id already recorded for another event: the second is refused, never applied, and kept.
# The reason says nothing of the first event (it may be another agency's).
CONFLICT_REASON = ("event id {event_id!r} was already used for a different event; this event is refused "
                   "and kept (event id conflict): send it under an id of its own")


@dataclass(frozen=True)
class Outcome:
    """What became of one event: the answer the sending system gets."""

    status: EventOutcome
    event_id: str | None
    case_id: str | None
    reason: str | None = None
    step: str | None = None
    nonconformities: tuple[Nonconformity, ...] = ()
    event_type: str | None = None
    agency: str | None = None
    procedure: str | None = None
    timings: tuple[Timing, ...] = ()
    conflict: bool = False  # refused because its event id was already used for a different event

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "event_id": self.event_id,
            "case_id": self.case_id,
            "step": self.step,
            "reason": self.reason,
            "nonconformities": [{"key": n.key, "type": n.type, "step": n.step} for n in self.nonconformities],
        }


class CaseBusy(Exception):
    """Other writers kept changing the case while this event was applied: nothing was written; send it again."""

    def __init__(self, case_id: str, event_id: str, attempts: int):
        super().__init__(f"case {case_id} is being changed by another writer; event {event_id!r} was not applied "
                         f"after {attempts} attempts: send it again")
        self.case_id = case_id
        self.event_id = event_id
