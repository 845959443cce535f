"""Health (no token needed) and who the caller is."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from engine.api.deps import Anyone, AppDep
from engine.api.errors import ErrorPublic


class HealthPublic(BaseModel):
    status: str
    database: str


class MePublic(BaseModel):
    name: str
    role: str
    agencies: list[str]
    all_agencies: bool


public_router = APIRouter(tags=["system"])
router = APIRouter(tags=["system"])


@public_router.get("/health", response_model=HealthPublic, summary="Liveness and database check (no token)",
            responses={503: {"model": ErrorPublic, "description": "Database unavailable"}})
def health(eiso: AppDep) -> HealthPublic:
    with eiso.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return HealthPublic(status="ok", database=eiso.engine.dialect.name)


@router.get("/me", response_model=MePublic, summary="The caller: name, role and agencies")
def me(user: Anyone) -> MePublic:
    return MePublic(name=user.name, role=user.role.value, agencies=list(user.scope.codes),
                    all_agencies=user.scope.everything)
