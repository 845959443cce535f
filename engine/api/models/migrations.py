"""Migrating running cases to a new procedure version: the request and the summary (as the CLI's JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from engine.core.agency import MAX_SCOPE_AGENCIES
from engine.core.events import AGENCY_CODE_PATTERN

StepId = Annotated[str, Field(min_length=1, max_length=200)]
AgencyCode = Annotated[str, Field(min_length=1, max_length=100, pattern=AGENCY_CODE_PATTERN)]


class MigrationRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: int = Field(ge=1, le=2**31 - 1, description="The version the running cases move to")
    from_: int | None = Field(default=None, alias="from", ge=1, le=2**31 - 1,
                              description="Only cases on this version")
    agencies: list[AgencyCode] = Field(default_factory=list, max_length=MAX_SCOPE_AGENCIES,
                                       description="Only cases of these agencies (each with the codes below it)")
    map: dict[StepId, StepId] = Field(default_factory=dict, max_length=1000,
                                      description="Removed or renamed steps: old step id -> new step id")
    dry_run: bool = Field(default=False, description="Plan only: what would move, with the new dues")


class StepMovePublic(BaseModel):
    seq: int
    step: str
    new_step: str
    allowance_hours_before: float | None
    allowance_hours_after: float | None
    consumed_hours: float | None
    paused: bool
    due_before: datetime | None
    due_after: datetime | None


class CaseMigrationPublic(BaseModel):
    case_id: str
    agency: str
    from_version: int
    to_version: int
    result: str = Field(description="`moved`, or `stayed` (with `reason_code` and `reason`)")
    reason_code: str | None
    reason: str | None
    mapped_steps: dict[str, str]
    steps: list[StepMovePublic]


class MigrationSummaryPublic(BaseModel):
    procedure: str
    to_version: int
    from_version: int | None
    agencies: list[str]
    dry_run: bool
    map: dict[str, str]
    moved: int
    stayed: int
    cases: list[CaseMigrationPublic]
