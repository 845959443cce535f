"""Nonconformities the engine raises (contract section 4).

Each fact has a stable ``key``: re-processing the same events finds the same key and
updates the record instead of raising a second one (e.g. ``step_overdue`` becoming
``step_late`` when the step finally completes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.core.agency import EVERY_AGENCY
from engine.core.states import NonconformityStatus

STEP_OVERDUE = "step_overdue"
STEP_LATE = "step_late"
CASE_OVERDUE = "case_overdue"
CASE_LATE = "case_late"
STEP_SKIPPED = "step_skipped"
UNKNOWN_STEP = "unknown_step"
EVENT_AFTER_CLOSE = "event_after_close"
LATE_SUPPLEMENT_REQUEST = "late_supplement_request"
MISSING_APOLOGY = "missing_apology"
REPEATED_EXTENSION = "repeated_extension"
APPOINTMENT_BEYOND_LIMIT = "appointment_beyond_limit"

NONCONFORMITY_TYPES: tuple[str, ...] = (
    STEP_OVERDUE, STEP_LATE, CASE_OVERDUE, CASE_LATE, STEP_SKIPPED, UNKNOWN_STEP,
    EVENT_AFTER_CLOSE, LATE_SUPPLEMENT_REQUEST, MISSING_APOLOGY, REPEATED_EXTENSION,
    APPOINTMENT_BEYOND_LIMIT,
)

# The names a record's key is built from (after the case id): one record per fact, so re-processing
# the same events finds the same key. An overdue step or case and its late completion share a key.
CASE_TIMELINESS = "case_timeliness"
STEP_TIMELINESS = "step_timeliness"

LABELS_VI: dict[str, str] = {
    STEP_OVERDUE: "Bước đang quá hạn",
    STEP_LATE: "Bước xử lý trễ hạn",
    CASE_OVERDUE: "Hồ sơ đang quá hạn",
    CASE_LATE: "Hồ sơ giải quyết trễ hạn",
    STEP_SKIPPED: "Bỏ qua bước quy trình",
    UNKNOWN_STEP: "Bước không có trong quy trình",
    EVENT_AFTER_CLOSE: "Sự kiện sau khi kết thúc hồ sơ",
    LATE_SUPPLEMENT_REQUEST: "Yêu cầu bổ sung quá 3 ngày làm việc",
    MISSING_APOLOGY: "Không gửi thư xin lỗi đúng hạn",
    REPEATED_EXTENSION: "Hẹn lại lần thứ hai",
    APPOINTMENT_BEYOND_LIMIT: "Ngày hẹn trả vượt thời hạn luật định",
}
LABELS_EN: dict[str, str] = {
    STEP_OVERDUE: "Step overdue",
    STEP_LATE: "Step completed late",
    CASE_OVERDUE: "Case overdue",
    CASE_LATE: "Case resolved late",
    STEP_SKIPPED: "Step skipped",
    UNKNOWN_STEP: "Step not in the procedure",
    EVENT_AFTER_CLOSE: "Event after the case was closed",
    LATE_SUPPLEMENT_REQUEST: "Supplement requested after 3 working days",
    MISSING_APOLOGY: "No timely apology and new appointment",
    REPEATED_EXTENSION: "Second new appointment",
    APPOINTMENT_BEYOND_LIMIT: "Appointment beyond the statutory limit",
}


def record_key(case_id: str, *parts: str | int) -> str:
    """A record's key: the case id, then what names the fact, e.g. ``C-1:step_timeliness:1``."""
    return ":".join([case_id, *map(str, parts)])


def step_key(case_id: str, seq: int) -> str:
    """The key of the overdue (then late) record of activation ``seq`` of a step."""
    return record_key(case_id, STEP_TIMELINESS, seq)


def case_key(case_id: str) -> str:
    """The key of the case's overdue (then late) record."""
    return record_key(case_id, CASE_TIMELINESS)


@dataclass(frozen=True)
class Nonconformity:
    key: str
    type: str
    case_id: str
    agency: str
    procedure: str
    procedure_version: int
    step: str | None
    due_at: datetime | None
    actual_at: datetime | None
    delay_seconds: int | None
    detected_at: datetime
    event_ids: tuple[str, ...]
    status: NonconformityStatus = NonconformityStatus.OPEN
    details: dict[str, Any] = field(default_factory=dict)
    # The agencies of the deployment the case follows (engine.core.agency.scope_key): versions are
    # numbered per code and scope, so the version alone does not say which procedure was broken.
    procedure_scope: str = EVERY_AGENCY

    @property
    def delay_working_hours(self) -> float | None:
        return None if self.delay_seconds is None else round(self.delay_seconds / 3600, 2)

    def evolve(self, **changes: Any) -> Nonconformity:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "case_id": self.case_id,
            "agency": self.agency,
            "procedure": self.procedure,
            "procedure_version": self.procedure_version,
            "procedure_scope": self.procedure_scope,
            "step": self.step,
            "due_at": _iso(self.due_at),
            "actual_at": _iso(self.actual_at),
            "delay_seconds": self.delay_seconds,
            "detected_at": _iso(self.detected_at),
            "event_ids": list(self.event_ids),
            "status": self.status,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, dct: dict[str, Any], procedure_scope: str = EVERY_AGENCY) -> Nonconformity:
        """``procedure_scope``: the scope of a record written before records named it (its case's)."""
        return cls(
            key=dct["key"],
            type=dct["type"],
            case_id=dct["case_id"],
            agency=dct["agency"],
            procedure=dct["procedure"],
            procedure_version=dct["procedure_version"],
            step=dct.get("step"),
            due_at=_dt(dct.get("due_at")),
            actual_at=_dt(dct.get("actual_at")),
            delay_seconds=dct.get("delay_seconds"),
            detected_at=_dt(dct["detected_at"]),  # type: ignore[arg-type]
            event_ids=tuple(dct.get("event_ids", ())),
            status=NonconformityStatus(dct.get("status", NonconformityStatus.OPEN)),
            details=dict(dct.get("details") or {}),
            procedure_scope=dct.get("procedure_scope", procedure_scope),
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
