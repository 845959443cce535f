"""Procedure versions and uploads."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from engine.api.errors import ProblemPublic


class ProcedureVersionPublic(BaseModel):
    code: str
    version: int
    name: str
    process_id: str
    filename: str
    checksum: str
    statutory_limit_working_hours: float
    deployed_at: datetime
    retired_at: datetime | None
    in_force: bool


class DeploymentPublic(BaseModel):
    code: str
    version: int
    name: str
    filename: str
    checksum: str
    deployed_at: datetime
    created: bool
    parked_events_applied: int
    warnings: list[ProblemPublic]


class ValidationPublic(BaseModel):
    valid: bool
    problems: list[ProblemPublic]


class RetirementPublic(BaseModel):
    code: str
    version: int
    retired_at: datetime
    changed: bool
