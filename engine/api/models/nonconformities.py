"""Nonconformities and their corrective action (ISO 9001 clause 10.2)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from pydantic import BaseModel, Field

from engine.api.corrective import Command
from engine.api.models.common import LongText, RequestModel, SaneDate, ShortText


class CauseCategory(str, Enum):
    """Root-cause families for the Pareto of the management review."""

    staff = "staff"
    procedure = "procedure"
    it_system = "it_system"
    workload = "workload"
    coordination = "coordination"
    applicant = "applicant"
    legal_change = "legal_change"
    other = "other"


class CorrectiveActionPublic(BaseModel):
    correction: str | None
    corrected_at: datetime | None
    cause: str | None
    cause_category: CauseCategory | None
    action: str | None
    action_owner: str | None
    action_due: date | None
    verification: str | None
    effective: bool | None
    verified_at: datetime | None
    closing_note: str | None
    closed_at: datetime | None
    updated_at: datetime
    updated_by: str


class NonconformityPublic(BaseModel):
    key: str
    type: str
    label_vi: str
    label_en: str
    case_id: str
    agency: str
    procedure: str
    procedure_version: int
    procedure_scope: str = Field(default="*", description="The agencies of the deployment the case follows: `*` "
                                 "for every agency, else their codes joined by commas (versions are numbered per "
                                 "code and scope)")
    step: str | None
    due_at: datetime | None
    actual_at: datetime | None
    delay_working_hours: float | None
    detected_at: datetime
    event_ids: list[str]
    status: str
    next: list[Command] = Field(description="What can be recorded now")
    version: int = Field(ge=0, description="Changes with every corrective-action step; send it back as `If-Match` "
                                           "(the `ETag`) so that a step made meanwhile by someone else answers 409")
    corrective_action: CorrectiveActionPublic | None


class NonconformityPage(BaseModel):
    items: list[NonconformityPublic]
    total: int
    limit: int
    offset: int


class CorrectionCreate(RequestModel):
    correction: LongText = Field(description="What was done at once to put the case right")


class CauseCreate(RequestModel):
    cause: LongText
    category: CauseCategory


class ActionCreate(RequestModel):
    action: LongText
    owner: ShortText
    due: SaneDate = Field(description="Due date of the action, in the calendar's zone; not in the past")


class VerificationCreate(RequestModel):
    verification: LongText = Field(description="How effectiveness was checked, and what was found")
    effective: bool = Field(description="False sends the record back to cause analysis")


class CloseCreate(RequestModel):
    note: LongText | None = None
