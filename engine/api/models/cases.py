"""Cases: the list, the process control slip, the event timeline, the Form 04 slip."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from engine.core.states import Timeliness


class _CaseHead(BaseModel):
    """The fields a case summary and its control slip share."""

    case_id: str
    agency: str
    agency_original: str | None = Field(default=None, description="The agency code the case was received with, "
                                        "when the agency code history moved it to a successor (`agency`); null: "
                                        "the same as `agency`")
    procedure: str
    procedure_version: int
    procedure_scope: str = Field(default="*", description="The agencies of the deployment the case follows: `*` "
                                 "for every agency, else their codes joined by commas (versions are numbered per "
                                 "code and scope)")
    status: str
    received_at: datetime
    started_at: datetime
    due_at: datetime | None
    promised_at: datetime | None
    extended_due_at: datetime | None
    resolved_at: datetime | None


class CaseSummaryPublic(_CaseHead):
    closed_at: datetime | None
    timeliness: Timeliness | None
    delay_working_hours: float | None
    overdue: bool = Field(description="Unresolved, not closed, and past its due now")


class CasePage(BaseModel):
    items: list[CaseSummaryPublic]
    total: int
    limit: int
    offset: int


class SlipStepPublic(BaseModel):
    """One line of the process control slip (Phiếu kiểm soát quá trình giải quyết hồ sơ)."""

    step: str
    unit: str | None
    status: str
    activated_at: datetime
    started_at: datetime | None
    due_at: datetime | None
    completed_at: datetime | None
    timeliness: Timeliness | None
    delay_working_hours: float | None


class ControlSlipPublic(_CaseHead):
    timeliness: Timeliness | None
    delay_working_hours: float | None
    steps: list[SlipStepPublic]


class TimelineEntryPublic(BaseModel):
    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    step: str | None
    actor: dict[str, Any] | None
    reason: str | None
    due_at: datetime | None
    data: dict[str, Any]
    notes: list[str]


class ApologySituation(str, Enum):
    late = "late"
    overdue = "overdue"
    at_risk = "at_risk"
    extended = "extended"


class ApologySlipPublic(BaseModel):
    """The data of Form 04: the apology with a new appointment (Phiếu xin lỗi và hẹn lại ngày trả kết quả)."""

    case_id: str
    agency: str
    procedure: str
    procedure_name: str | None
    received_at: datetime
    original_appointment: datetime | None = Field(description="The receipt's promised date, else the statutory due")
    statutory_due_at: datetime | None
    situation: ApologySituation
    reason: str | None = Field(description="The reason given with case.extended, if one came")
    new_appointment: datetime | None
    apology_at: datetime | None
    apology_in_time: bool | None = Field(description="The apology came at least one working day before the due")
    remaining_working_hours: float | None
    delay_working_hours: float | None
