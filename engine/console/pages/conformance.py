"""The conformance of a procedure on its version's page (issue 14, item 2), and practice's picture beside it.

The figures are the API's ``GET /reports/conformance`` (``engine.api.routers.reports.conformance``) for the
same user, period and agency, restricted to the procedure's code: the conformance rate, the token-replay log
fitness, the most common deviations (their kinds in the page's language, ``conformance_words.DEVIATIONS``) and
the variants with their counts and median working time. Like the API's report, they cover every version of
the procedure (the cases closed in the period). The picture is ``engine.reporting.practice_svg`` over the
API's ``practice`` for the same filters, served by the version page's ``practice.svg`` route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape

from sqlmodel import Session

from engine.api.deps import Principal
from engine.api.reporting import conformance as conformance_api
from engine.api.reporting.common import ReportQuery
from engine.api.reporting.conformance import ConformanceReport, ProcedureConformance
from engine.api.routers import reports as reports_api
from engine.bootstrap import App
from engine.reporting.conformance_words import DEVIATIONS
from engine.reporting.formats import Language
from engine.reporting.practice_svg import practice_svg

__all__ = ["Conformance", "practice_picture", "procedure_conformance"]


@dataclass(frozen=True)
class Conformance:
    """What the page shows: the API's figures and the deviation kinds in the page's words."""

    figures: ProcedureConformance
    kinds: dict[str, str]


def _query(code: str, start: date, last: date, agency: str | None) -> ReportQuery:
    """The API's query for the page's period (``start`` to ``last`` included) and agency, for ``code``."""
    return ReportQuery(start=start, end=last + timedelta(days=1), agency=agency, procedure=code)


def procedure_conformance(eiso: App, user: Principal, code: str, start: date, last: date,
                          agency: str | None) -> ProcedureConformance | None:
    """``GET /reports/conformance``'s entry of procedure ``code`` for this user; None: no case closed."""
    with Session(eiso.engine) as session:
        report = reports_api.conformance(_query(code, start, last, agency), user, eiso, session)
    assert isinstance(report, ConformanceReport)
    return next((p for p in report.procedures if p.procedure == code), None)


def shown(figures: ProcedureConformance | None, language: str) -> Conformance | None:
    if figures is None:
        return None
    return Conformance(figures, DEVIATIONS[Language(language)])


def practice_picture(eiso: App, user: Principal, code: str, start: date, last: date, agency: str | None,
                     language: str, nothing: str) -> str:
    """Practice beside procedure ``code`` as SVG, in ``language``; ``nothing`` is written on an empty picture
    when no case of it closed in the period (within the user's agencies)."""
    query = _query(code, start, last, agency)
    period = query.period(eiso.calendar.zone, start)
    with Session(eiso.engine) as session:
        found = conformance_api.practice(session, user, query, period, eiso.calendar, eiso.catalog, code)
    if found is None:
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="480" height="60" viewBox="0 0 480 60" '
                'font-family="sans-serif" font-size="14"><rect width="480" height="60" fill="white"/>'
                f'<text x="20" y="35">{escape(nothing)}</text></svg>\n')
    return practice_svg(found, Language(language))
