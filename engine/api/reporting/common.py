"""What every report of the API shares: its query (period, filters, format, language)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, and_, true

from engine.api.deps import Principal
from engine.api.errors import ApiError
from engine.api.models.common import SaneDate
from engine.api.scope import BadAgencyCode, check_code, code_clause
from engine.core.events import AGENCY_CODE_PATTERN
from engine.reporting.formats import Format, Language
from engine.reporting.labels import LABELS
from engine.reporting.ontime import rate
from engine.reporting.period import Period
from engine.store.sources import SOURCE_PATTERN

__all__ = ["MAX_DAYS", "SECTIONS", "AgencyFilter", "Format", "From", "Language", "Period", "ReportQuery",
           "Section", "Source", "To", "headings", "rate", "with_source"]

MAX_DAYS = 3 * 366
# The tables of every report, as `section` names them (attainment, bottlenecks, Pareto, Circular 01).
SECTIONS = ("attainment", "totals", "steps", "by_type", "by_root_cause", "agencies", "units", "dossiers")


# The parameters every report takes (``ReportQuery``; a report with more, e.g. the step statistics', subclasses it).
From = Annotated[SaneDate | None, Query(alias="from", description="First day (calendar zone); default: the first of "
                                                                  "this month")]
To = Annotated[SaneDate | None, Query(alias="to", description=f"Day after the last, after `from`; default: tomorrow. "
                                      f"A period covers at most three years ({MAX_DAYS} days): 422 beyond")]
AgencyFilter = Annotated[str | None, Query(max_length=100, json_schema_extra={"pattern": AGENCY_CODE_PATTERN},
                                           description="Agency code, e.g. 000.00.12.H10; covers the codes below it")]
Section = Annotated[str | None, Query(max_length=32, json_schema_extra={"enum": list(SECTIONS)},
                                      description="CSV only: which of the report's tables (default: its first); "
                                                  "a table of another report answers 422")]
# As `eiso report --source`: live findings by default, so that a replayed log (eiso history import) does not
# count as this period's nonconformities unless asked for.
Source = Annotated[str, Query(max_length=60, pattern=SOURCE_PATTERN,
                              description="Nonconformities counted: live (default), history (replayed by eiso "
                                          "history import), history:<import id>, or all")]


class ReportQuery:
    """The query parameters of every report."""

    source = "live"  # the nonconformities counted (engine.store.sources); a route's `source` sets it (with_source)

    def __init__(
        self,
        start: From = None,
        end: To = None,
        agency: AgencyFilter = None,
        procedure: Annotated[str | None, Query(max_length=64)] = None,
        format: Format = Format.json,
        lang: Language = Language.vi,
        section: Section = None,
    ):
        self.start, self.end = start, end
        self.agency, self.procedure = agency, procedure
        if section is not None and section not in SECTIONS:
            raise ApiError(422, f"section must be one of {', '.join(SECTIONS)} (the report's own tables)")
        self.format, self.lang, self.section = format, lang, section

    def period(self, zone: Any, today: date) -> Period:
        start = self.start or today.replace(day=1)
        end = self.end or today + timedelta(days=1)
        if end <= start:
            raise ApiError(422, "the period's end ('to') must be after its start ('from')")
        if (end - start).days > MAX_DAYS:
            raise ApiError(422, f"a report covers at most {MAX_DAYS} days")
        return Period(datetime.combine(start, time(), zone), datetime.combine(end, time(), zone))

    def where(self, user: Principal, agency_column: Any, procedure_column: Any) -> ColumnElement[bool]:
        clause = user.scope.clause(agency_column)
        if self.agency is not None:
            try:
                clause = and_(clause, code_clause(check_code(self.agency), agency_column))
            except BadAgencyCode as err:
                raise ApiError(422, str(err)) from None
        if self.procedure is not None:
            clause = and_(clause, procedure_column == self.procedure)
        return clause if clause is not None else true()


def headings(lang: Language) -> dict[str, str]:
    return LABELS[lang].headings


def with_source(q: Annotated[ReportQuery, Depends()], source: Source = "live") -> ReportQuery:
    """The report's query with ``source``: the dependency of the reports that count nonconformities."""
    q.source = source
    return q
