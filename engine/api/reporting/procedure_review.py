"""The procedures review as a report: the deployed procedures against the national catalogue, as
``eiso procedures review`` prints them (``engine.application.procedure_review``), for the caller's agencies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from engine.api.deps import Principal
from engine.application.procedure_review import COLUMNS, review_rows
from engine.bootstrap import App
from engine.reporting.tables import Table
from engine.store.catalogue import catalogue_entries

__all__ = ["COLUMNS", "ProcedureReviewReport", "ReviewFinding", "procedure_review"]


class ReviewFinding(BaseModel):
    kind: str
    code: str
    changed_on: str
    version: int | None
    scope: str | None
    deployed_limit: str | None
    catalogue_limit: str | None
    detail: str


class ProcedureReviewReport(BaseModel):
    at: str
    findings: list[ReviewFinding]

    def tables(self) -> list[Table]:
        return [Table("findings", COLUMNS, [f.model_dump() for f in self.findings])]


def procedure_review(eiso: App, user: Principal, at: datetime) -> ProcedureReviewReport:
    agencies = None if user.scope.everything else user.scope.codes
    rows = review_rows(eiso.catalog.versions(), catalogue_entries(eiso.engine), at, agencies)
    return ProcedureReviewReport(at=at.isoformat(), findings=[ReviewFinding.model_validate(r) for r in rows])
