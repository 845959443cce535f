"""The state of one case (dossier): its clock, its steps as they ran, its nonconformities.

Plain data with a JSON form; the rules that change it live in ``engine.core.handling``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.core.agency import EVERY_AGENCY
from engine.core.clocks import WorkingClock
from engine.core.nonconformities import Nonconformity
from engine.core.states import CaseStatus, StepStatus, Timeliness

# Why the clocks are paused.
PAUSE_SUPPLEMENT = "supplement"
PAUSE_SUSPENSION = "suspension"


@dataclass
class StepRun:
    """One activation of a step: the line of the process control slip."""

    seq: int
    step: str
    task_id: str
    activated_at: datetime
    epoch: int
    clock: WorkingClock | None
    activated_by: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    timeliness: Timeliness | None = None
    delay_seconds: int | None = None
    due_at: datetime | None = None
    skipped: bool = False
    abandoned: bool = False

    @property
    def active(self) -> bool:
        return self.completed_at is None and not self.skipped and not self.abandoned

    @property
    def status(self) -> StepStatus:
        if self.skipped:
            return StepStatus.SKIPPED
        if self.completed_at is not None:
            return StepStatus.COMPLETED
        return StepStatus.ABANDONED if self.abandoned else StepStatus.ACTIVE

    def current_due(self) -> datetime | None:
        if self.due_at is not None:
            return self.due_at
        return self.clock.due_at if self.clock is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "step": self.step,
            "task_id": self.task_id,
            "activated_at": self.activated_at.isoformat(),
            "epoch": self.epoch,
            "clock": None if self.clock is None else self.clock.to_dict(),
            "activated_by": self.activated_by,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "completed_by": self.completed_by,
            "timeliness": self.timeliness,
            "delay_seconds": self.delay_seconds,
            "due_at": _iso(self.due_at),
            "skipped": self.skipped,
            "abandoned": self.abandoned,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepRun:
        return cls(
            seq=d["seq"],
            step=d["step"],
            task_id=d["task_id"],
            activated_at=datetime.fromisoformat(d["activated_at"]),
            epoch=d["epoch"],
            clock=None if d["clock"] is None else WorkingClock.from_dict(d["clock"]),
            activated_by=d["activated_by"],
            started_at=_dt(d.get("started_at")),
            completed_at=_dt(d.get("completed_at")),
            completed_by=d.get("completed_by"),
            timeliness=_timeliness(d.get("timeliness")),
            delay_seconds=d.get("delay_seconds"),
            due_at=_dt(d.get("due_at")),
            skipped=d.get("skipped", False),
            abandoned=d.get("abandoned", False),
        )


@dataclass
class Case:
    case_id: str
    agency: str
    procedure: str
    procedure_version: int
    received_at: datetime
    received_event_id: str
    started_at: datetime
    clock: WorkingClock
    epoch: int = 0
    pauses: set[str] = field(default_factory=set)
    promised_at: datetime | None = None
    extended_due_at: datetime | None = None
    extensions: list[tuple[str, datetime]] = field(default_factory=list)
    resolved_at: datetime | None = None
    timeliness: Timeliness | None = None
    delay_seconds: int | None = None
    due_at_resolution: datetime | None = None
    closed_status: CaseStatus | None = None
    closed_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)
    nonconformities: dict[str, Nonconformity] = field(default_factory=dict)
    last_event_at: datetime | None = None
    event_count: int = 0
    procedure_scope: str = EVERY_AGENCY  # the deployment's agencies (engine.core.agency.scope_key)
    # The code the case was received with, once the agency code history moved ``agency`` on to a
    # successor (engine.core.agency_history); None while they are the same.
    agency_original: str | None = None

    @property
    def status(self) -> CaseStatus:
        if self.closed_status is not None:
            return self.closed_status
        if PAUSE_SUPPLEMENT in self.pauses:
            return CaseStatus.AWAITING_SUPPLEMENT
        if PAUSE_SUSPENSION in self.pauses:
            return CaseStatus.SUSPENDED
        return CaseStatus.RESOLVED if self.resolved_at is not None else CaseStatus.OPEN

    @property
    def closed(self) -> bool:
        return self.closed_status is not None

    @property
    def due_at(self) -> datetime | None:
        """The statutory due: restarted by a supplement, never moved by an extension."""
        if self.due_at_resolution is not None:
            return self.due_at_resolution
        return self.clock.due_at

    def active_runs(self) -> list[StepRun]:
        return [run for run in self.steps if run.active]

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "agency": self.agency,
            "procedure": self.procedure,
            "procedure_version": self.procedure_version,
            "received_at": self.received_at.isoformat(),
            "received_event_id": self.received_event_id,
            "started_at": self.started_at.isoformat(),
            "clock": self.clock.to_dict(),
            "epoch": self.epoch,
            "pauses": sorted(self.pauses),
            "promised_at": _iso(self.promised_at),
            "extended_due_at": _iso(self.extended_due_at),
            "extensions": [[eid, at.isoformat()] for eid, at in self.extensions],
            "resolved_at": _iso(self.resolved_at),
            "timeliness": self.timeliness,
            "delay_seconds": self.delay_seconds,
            "due_at_resolution": _iso(self.due_at_resolution),
            "closed_status": self.closed_status,
            "closed_at": _iso(self.closed_at),
            "data": self.data,
            "steps": [run.to_dict() for run in self.steps],
            "nonconformities": [nc.to_dict() for nc in self.nonconformities.values()],
            "last_event_at": _iso(self.last_event_at),
            "event_count": self.event_count,
            "procedure_scope": self.procedure_scope,
        } | ({"agency_original": self.agency_original} if self.agency_original is not None else {})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Case:
        # A record restored from a snapshot written before records named the scope is its case's.
        ncs = [Nonconformity.from_dict(x, d.get("procedure_scope", EVERY_AGENCY)) for x in d.get("nonconformities", [])]
        return cls(
            case_id=d["case_id"],
            agency=d["agency"],
            procedure=d["procedure"],
            procedure_version=d["procedure_version"],
            received_at=datetime.fromisoformat(d["received_at"]),
            received_event_id=d["received_event_id"],
            started_at=datetime.fromisoformat(d["started_at"]),
            clock=WorkingClock.from_dict(d["clock"]),
            epoch=d.get("epoch", 0),
            pauses=set(d.get("pauses", [])),
            promised_at=_dt(d.get("promised_at")),
            extended_due_at=_dt(d.get("extended_due_at")),
            extensions=[(eid, datetime.fromisoformat(at)) for eid, at in d.get("extensions", [])],
            resolved_at=_dt(d.get("resolved_at")),
            timeliness=_timeliness(d.get("timeliness")),
            delay_seconds=d.get("delay_seconds"),
            due_at_resolution=_dt(d.get("due_at_resolution")),
            closed_status=None if d.get("closed_status") is None else CaseStatus(d["closed_status"]),
            closed_at=_dt(d.get("closed_at")),
            data=dict(d.get("data") or {}),
            steps=[StepRun.from_dict(x) for x in d.get("steps", [])],
            nonconformities={nc.key: nc for nc in ncs},
            last_event_at=_dt(d.get("last_event_at")),
            event_count=d.get("event_count", 0),
            procedure_scope=d.get("procedure_scope", EVERY_AGENCY),  # snapshots before scopes: every agency
            agency_original=d.get("agency_original"),
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _timeliness(value: str | None) -> Timeliness | None:
    return None if value is None else Timeliness(value)
