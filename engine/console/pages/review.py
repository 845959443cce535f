"""The procedures review against the national catalogue (issue 13, item 2), as a page with its CSV and XLSX.

The findings are the API's ``GET /reports/procedure-review`` (``engine.api.routers.reports.procedure_review``),
for the same user, so for the same agencies: the deployed versions that concern them and the catalogue's
procedures, which are national. The page groups them by kind, each with the date of its change (the catalogue
entry's effective date; the deployment date for a code the catalogue lacks). The form's day is the review's
"as of": the end of that day in the calendar's zone; empty, now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from engine.api import roles
from engine.api.deps import Principal
from engine.api.reporting.common import Format, Language, ReportQuery
from engine.api.reporting.procedure_review import ProcedureReviewReport, ReviewFinding
from engine.api.routers import reports as api
from engine.bootstrap import App
from engine.console.auth import PageUser, require
from engine.console.i18n import Translator, parse_date
from engine.console.pages.procedures import version_url
from engine.console.render import page
from engine.core.agency import EVERY_AGENCY, scope_agencies

router = APIRouter()

# The lists of the page, in its order: what to revise first comes first.
KINDS = ("limit_differs", "abolished_in_force", "not_deployed", "not_in_catalogue", "limit_unknown")
MAX_WRITTEN = 100


@dataclass(frozen=True)
class ShownFinding:
    finding: ReviewFinding
    changed_on: date
    agencies: list[str] | None  # None: every agency; empty list: no deployed version (a catalogue entry)
    url: str | None  # the deployed version's page

    @property
    def every_agency(self) -> bool:
        return self.finding.scope == EVERY_AGENCY


def _as_of(eiso: App, day: date | None) -> datetime:
    if day is None:
        return eiso.clock.now()
    return datetime.combine(day, time.max, eiso.calendar.zone)


def _review(eiso: App, user: Principal, at: datetime, format: Format, lang: Language) -> Any:
    """The API's answer: the report for JSON, the file's response for CSV and XLSX."""
    return api.procedure_review(ReportQuery(format=format, lang=lang), user, eiso, at)


def _read(request: Request) -> tuple[str, date | None, str | None]:
    """The form's day as written, the day, and its problem (a message key)."""
    written = (request.query_params.get("at") or "").strip()[:MAX_WRITTEN]
    try:
        return written, parse_date(written), None
    except ValueError:
        return written, None, "common.bad_date"


def shown(report: ProcedureReviewReport) -> dict[str, list[ShownFinding]]:
    lists: dict[str, list[ShownFinding]] = {kind: [] for kind in KINDS}
    for finding in report.findings:
        scope = finding.scope
        url = version_url(finding.code, finding.version, scope) if finding.version and scope else None
        agencies = None if scope == EVERY_AGENCY else list(scope_agencies(scope)) if scope else []
        lists.setdefault(finding.kind, []).append(
            ShownFinding(finding, date.fromisoformat(finding.changed_on), agencies, url))
    return lists


@router.get("/procedures/review", include_in_schema=False)
def review_page(request: Request, user: PageUser) -> Response:
    require(user, roles.READERS)
    eiso: App = request.app.state.eiso
    t: Translator = request.state.translator
    written, day, problem = _read(request)
    lists: dict[str, list[ShownFinding]] = {}
    at = None
    if problem is None:
        at = _as_of(eiso, day)
        report = _review(eiso, user, at, Format.json, Language(t.language))
        assert isinstance(report, ProcedureReviewReport)
        lists = shown(report)
    query = urlencode({"at": day.strftime("%d/%m/%Y")} if day else {})
    return page(request, "procedures/review.html", status=422 if problem else 200, lists=lists, kinds=KINDS,
                written=written, error=problem, at=at, download_query=("?" + query) if query else "",
                scope_codes=list(user.scope.codes) if not user.scope.everything else [])


def _download(request: Request, user: Principal, format: Format) -> Response:
    require(user, roles.READERS)
    eiso: App = request.app.state.eiso
    t: Translator = request.state.translator
    _, day, problem = _read(request)
    if problem is not None:
        return page(request, "error.html", status=422, status_code=422, message="error.422")
    answer = _review(eiso, user, _as_of(eiso, day), format, Language(t.language))
    assert isinstance(answer, Response)
    return answer


@router.get("/procedures/review.csv", include_in_schema=False)
def review_csv(request: Request, user: PageUser) -> Response:
    """The API's CSV of the review, in the page's language."""
    return _download(request, user, Format.csv)


@router.get("/procedures/review.xlsx", include_in_schema=False)
def review_xlsx(request: Request, user: PageUser) -> Response:
    """The API's XLSX of the review, in the page's language."""
    return _download(request, user, Format.xlsx)
