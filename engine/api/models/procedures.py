"""Procedure versions and uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from engine.api.errors import ProblemPublic

Scope = Annotated[str, Field(description="The agencies the deployment covers: `*` for every agency, else their "
                                         "codes joined by commas; versions are numbered per code and scope")]
Agencies = Annotated[list[str], Field(description="The agency codes the deployment covers (each with the codes "
                                                  "below it); empty for every agency")]


class ProcedureVersionPublic(BaseModel):
    code: str
    version: int
    scope: Scope
    agencies: Agencies
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
    scope: Scope
    agencies: Agencies
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
    scope: Scope
    agencies: Agencies
    retired_at: datetime
    changed: bool
