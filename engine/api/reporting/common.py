"""What every report shares: its period, its filters and its headings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import ColumnElement, and_, true

from engine.api.deps import Principal
from engine.api.errors import ApiError
from engine.api.models.common import SaneDate
from engine.api.scope import BadAgencyCode, check_code, code_clause
from engine.core.events import AGENCY_CODE_PATTERN
from engine.reports import HEADINGS

MAX_DAYS = 3 * 366
# The tables of every report, as `section` names them (attainment, bottlenecks, Pareto, Circular 01).
SECTIONS = ("attainment", "totals", "steps", "by_type", "by_root_cause", "agencies", "units", "dossiers")


class Format(str, Enum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class Language(str, Enum):
    vi = "vi"
    en = "en"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def months(self, zone: Any) -> list[tuple[str, datetime, datetime]]:
        """(``YYYY-MM``, start, end) for each calendar month the period touches, clipped to it."""
        out: list[tuple[str, datetime, datetime]] = []
        local = self.start.astimezone(zone)
        first = local.date().replace(day=1)
        while True:
            following = (first + timedelta(days=32)).replace(day=1)
            lo = max(self.start, datetime.combine(first, time(), zone))
            hi = min(self.end, datetime.combine(following, time(), zone))
            if lo >= self.end:
                return out
            out.append((first.strftime("%Y-%m"), lo, hi))
            first = following


class ReportQuery:
    """The query parameters of every report."""

    def __init__(
        self,
        start: Annotated[SaneDate | None, Query(alias="from", description="First day (calendar zone); default: the "
                                                                          "first of this month")] = None,
        end: Annotated[SaneDate | None, Query(alias="to", description=f"Day after the last, after `from`; default: "
                                              f"tomorrow. A period covers at most three years ({MAX_DAYS} days): "
                                              "422 beyond")] = None,
        agency: Annotated[str | None, Query(max_length=100, json_schema_extra={"pattern": AGENCY_CODE_PATTERN},
                                            description="Agency code, e.g. 000.00.12.H10; covers the codes below it")]
        = None,
        procedure: Annotated[str | None, Query(max_length=64)] = None,
        format: Format = Format.json,
        lang: Language = Language.vi,
        section: Annotated[str | None, Query(max_length=32, json_schema_extra={"enum": list(SECTIONS)},
                                             description="CSV only: which of the report's tables (default: its first); "
                                                         "a table of another report answers 422")]
        = None,
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


EXTRA: dict[str, dict[str, str]] = {
    "en": {"month": "Month", "share": "Share", "cumulative_share": "Cumulative share", "category": "Root cause",
           "label": "Label", "p90_ratio": "90th pct / allowance", "median_ratio": "Median / allowance",
           "over_allowance": "Over allowance", "case_id": "Case", "resolved_at": "Resolved at",
           "timeliness": "Timeliness", "index1": "Index 1 (points)", "index2": "Index 2 (points)",
           "dossiers": "Dossiers", "steps": "Steps", "points_2": "2 points", "points_1": "1 point",
           "points_0": "0 points", "average": "Average", "index1_average": "Index 1 average",
           "index2_average": "Index 2 average", "unit_steps": "Unit steps"},
    "vi": {"month": "Tháng", "share": "Tỷ lệ", "cumulative_share": "Tỷ lệ cộng dồn", "category": "Nguyên nhân",
           "label": "Tên", "p90_ratio": "Phân vị 90 / định mức", "median_ratio": "Trung vị / định mức",
           "over_allowance": "Vượt định mức", "case_id": "Hồ sơ", "resolved_at": "Ngày giải quyết",
           "timeliness": "Tiến độ", "index1": "Chỉ số 1 (điểm)", "index2": "Chỉ số 2 (điểm)",
           "dossiers": "Số hồ sơ", "steps": "Số bước", "points_2": "2 điểm", "points_1": "1 điểm",
           "points_0": "0 điểm", "average": "Điểm trung bình", "index1_average": "Chỉ số 1 trung bình",
           "index2_average": "Chỉ số 2 trung bình", "unit_steps": "Số bước của đơn vị"},
}


def headings(lang: Language) -> dict[str, str]:
    return {**HEADINGS[lang.value], **EXTRA[lang.value]}


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
