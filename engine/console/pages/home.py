"""The overview: where each area is, for the signed-in user's role."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from engine.api import roles
from engine.console.auth import PageUser, may
from engine.console.render import page

router = APIRouter()

AREAS = (("/console/procedures", "nav.procedures", roles.READERS), ("/console/cases", "nav.cases", roles.READERS),
         ("/console/nonconformities", "nav.nonconformities", roles.READERS),
         ("/console/reports", "nav.reports", roles.READERS), ("/console/audit", "nav.audit", roles.AUDIT_READERS))


@router.get("/", include_in_schema=False)
def home(request: Request, user: PageUser) -> Response:
    areas = [(href, key) for href, key, allowed in AREAS if may(user, allowed)]
    return page(request, "home.html", areas=areas)
