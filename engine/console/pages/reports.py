"""The reports pages: attainment of the quality objective, bottleneck steps, the nonconformity Pareto and
the Circular 01/2018 indices, with their XLSX and CSV downloads.

Every figure comes from the API's own report functions (``engine.api.routers.reports``), called with a
``ReportQuery`` built from the page's filters: the same period rules (at most three years), the same
agency scope, the same rounding. The downloads are those functions' CSV and XLSX answers, byte for byte.
The filters read as people write them: ``from`` and ``to`` are days ``dd/mm/yyyy``, ``to`` included
(the API's ``to`` is the day after it); the default is this month up to today, as the API's.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session, col, select

from engine.api import roles
from engine.api.deps import AppDep, Principal, SessionDep
from engine.api.errors import ApiError
from engine.api.reporting import bottlenecks as bottlenecks_
from engine.api.reporting import circular01 as circular01_
from engine.api.reporting import pareto as pareto_
from engine.api.reporting.attainment import AttainmentReport
from engine.api.reporting.common import MAX_DAYS, Format, Language, Period, ReportQuery
from engine.api.routers import reports as api
from engine.api.scope import BadAgencyCode, check_code
from engine.bootstrap import App
from engine.console.auth import PageUser, require
from engine.console.i18n import Translator, parse_date
from engine.console.render import page
from engine.core.agency import concerns
from engine.core.events import MAX_YEAR
from engine.reporting import ontime
from engine.reporting.labels import LABELS, Labels
from engine.reporting.tables import PERCENT_KINDS, Table
from engine.store.tables import ProcedureVersion

router = APIRouter()

# The report pages, in the order of their tabs: URL name -> title message.
REPORTS = {"attainment": "reports.attainment", "bottlenecks": "reports.bottlenecks",
           "nonconformities": "reports.nonconformities", "circular-01": "reports.circular01"}
DOSSIERS_PER_PAGE = 50
MAX_BARS = 40
MAX_WRITTEN = 200  # longer filter text is refused anyway; only this much is shown back
MAX_PROCEDURE = 64  # the API's procedure filter
# The dashboards of monitoring/grafana/dashboards/ (their ``uid``; tests check the files say the same).
GRAFANA_LEADERS = "eiso-leaders"
GRAFANA_PROCEDURE = "eiso-procedure"


# ---------------------------------------------------------------------------------------------------- filters

@dataclass
class Filters:
    """The filters as written (shown back in the form), their errors, and the API query they make."""

    written: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    query: ReportQuery | None = None
    period: Period | None = None
    first: date | None = None
    last: date | None = None  # included

    @property
    def agency(self) -> str | None:
        return self.query.agency if self.query is not None else None

    @property
    def procedure(self) -> str | None:
        return self.query.procedure if self.query is not None else None

    def params(self) -> dict[str, str]:
        """The filters for a link: the days as the page shows them, empty ones left out."""
        if self.first is None or self.last is None:
            return {k: v for k, v in self.written.items() if v}
        out = {"from": self.first.strftime("%d/%m/%Y"), "to": self.last.strftime("%d/%m/%Y")}
        out.update({k: self.written[k] for k in ("agency", "procedure") if self.written[k]})
        return out


def _shown_back(text: str) -> str:
    """Filter text to show back in its field: cut, control characters (NUL...) as U+FFFD."""
    return "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cs") else c for c in text[:MAX_WRITTEN])


def _procedures(user: Principal, session: Session) -> dict[str, str]:
    """The procedure codes the user may see (versions deployed for their agencies), with the newest name."""
    rows = session.exec(select(ProcedureVersion.code, ProcedureVersion.name, ProcedureVersion.scope)
                        .order_by(col(ProcedureVersion.code), col(ProcedureVersion.version))).all()
    return {code: name for code, name, scope in rows if user.scope.everything or concerns(scope, user.scope.codes)}


def _filters(request: Request, eiso: App, procedures: Mapping[str, str], format: Format = Format.json,
             section: str | None = None) -> Filters:
    """The page's filters read into the API's ``ReportQuery`` and ``Period``; a field's problem in ``errors``.

    ``ApiError`` only for a ``section`` that no report has (a download's parameter, not a field)."""
    t: Translator = request.state.translator
    params = request.query_params
    filters = Filters({name: _shown_back((params.get(name) or "").strip())
                       for name in ("from", "to", "agency", "procedure")})
    written, errors = filters.written, filters.errors
    today = eiso.calendar.local(eiso.clock.now()).date()
    first = last = today
    try:
        first = parse_date(params.get("from")) or today.replace(day=1)
    except ValueError:
        errors["from"] = t("common.bad_date")
    try:
        last = parse_date(params.get("to")) or today
        if last >= date(MAX_YEAR, 12, 31):
            raise ValueError(last)  # the API's `to`, the day after, must stay within the years it takes
    except ValueError:
        errors["to"] = t("common.bad_date")
    agency = (params.get("agency") or "").strip() or None
    if agency is not None:
        try:
            check_code(agency)
        except BadAgencyCode:
            errors["agency"] = t("reports.bad_agency")
    procedure = (params.get("procedure") or "").strip() or None
    if procedure is not None and (len(procedure) > MAX_PROCEDURE or procedure not in procedures):
        errors["procedure"] = t("reports.bad_procedure")
    if "from" in errors or "to" in errors:
        return filters
    query = ReportQuery(start=first, end=last + timedelta(days=1), agency=agency, procedure=procedure,
                        format=format, lang=Language(t.language), section=section)
    try:
        period = query.period(eiso.calendar.zone, today)
    except ApiError:  # the API's period rule: after the start, at most MAX_DAYS
        errors["to"] = t("reports.to_before_from") if last < first else t("reports.too_long", days=MAX_DAYS)
        return filters
    filters.first, filters.last = first, last
    written["from"], written["to"] = first.strftime("%d/%m/%Y"), last.strftime("%d/%m/%Y")
    if not errors:
        filters.query, filters.period = query, period
    return filters


# ---------------------------------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class Cell:
    column: str
    text: str
    value: str  # the JSON's value (text as is, anything else as JSON), for data-value
    numeric: bool
    badge: str | None = None


@dataclass(frozen=True)
class Row:
    cells: list[Cell]
    total: bool


@dataclass(frozen=True)
class Shown:
    """One of a report's tables as the page shows it: the headings and words of ``engine.reporting.labels``,
    percentages, yes/no and labels exactly as the CSV writes them, numbers in the language's format."""

    name: str
    columns: list[tuple[str, str, bool]]  # column, heading, numeric
    rows: list[Row]


def _json_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _digits(value: float) -> int:
    text = repr(value)
    return 3 if "e" in text or "." not in text else min(3, max(1, len(text.split(".")[1])))


def _text(t: Translator, column: str, value: Any, written: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(written)
    if isinstance(value, int):
        return t.number(value)
    if isinstance(value, float):
        return t.number(value, digits)
    text = str(value)
    if column == "month" and len(text) == 7 and text[4] == "-":
        return f"{text[5:]}/{text[:4]}"
    if column == "resolved_at":
        try:
            return t.datetime(datetime.fromisoformat(text))
        except ValueError:
            return text
    return "" if written is None else str(written)


def shown(table: Table, t: Translator, labels: Labels) -> Shown:
    sources = [*table.rows, *table.totals]
    body = table.body(labels)
    digits = {c: max(_digits(v) for v in values) for c in table.columns  # one number of decimals per column
              if (values := [r[c] for r in sources if isinstance(r.get(c), float)])}
    numeric = {c for c in table.columns if table.kinds.get(c) in PERCENT_KINDS or any(
        isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in sources)}
    rows = []
    for index, (source, written) in enumerate(zip(sources, body, strict=True)):
        cells = []
        for column, text in zip(table.columns, written, strict=True):
            kind, value = table.kinds.get(column), source.get(column)
            badge = None
            if kind == "rate":  # the on-time rate to one decimal, never rounded up to the objective (as the CSV)
                shown_text = _percent(t, ontime.shown_percent(source, table.objective))
            elif kind is not None:  # shares, yes/no, labels: the CSV's words
                shown_text = "—" if text is None else str(text)
                if kind == "yes_no" and value is not None:
                    badge = "ok" if value else "bad"
                elif kind == "label" and isinstance(value, str):
                    badge = value
            else:
                shown_text = _text(t, column, value, text, digits.get(column, 1))
            cells.append(Cell(column, shown_text, _json_value(value), column in numeric, badge))
        rows.append(Row(cells, total=index >= len(table.rows)))
    return Shown(table.name, [(c, h, c in numeric) for c, h in zip(table.columns, table.headings(labels),
                                                                    strict=True)], rows)


def by_month(table: Shown) -> Shown:
    """The attainment's rows with each month's totals row under that month's rows (the CSV puts them last)."""
    def month(row: Row) -> str:
        return next(str(c.value) for c in row.cells if c.column == "month")

    totals = [r for r in table.rows if r.total]
    ordered: list[Row] = []
    for total in totals:
        ordered += [r for r in table.rows if not r.total and month(r) == month(total)] + [total]
    months = {month(r) for r in totals}
    ordered += [r for r in table.rows if not r.total and month(r) not in months]
    return Shown(table.name, table.columns, ordered)


def _dumped(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


# ---------------------------------------------------------------------------------------------------- chart

@dataclass(frozen=True)
class Bar:
    label: str
    title: str
    text: str
    level: str  # ok / bad / none
    x: float
    y: float
    width: float
    height: float
    middle: float
    value_y: float
    inside: bool  # the value written inside the bar's top (else above it)


@dataclass(frozen=True)
class Chart:
    """An on-time rate bar chart drawn on the server as SVG, the objective as a line."""

    title: str
    desc: str
    bars: list[Bar]
    more: str | None
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    grid: list[tuple[float, str]]
    objective_y: float
    objective_label_y: float
    objective_text: str
    rotate: bool  # the labels turned, when they do not fit side by side
    values: bool  # each bar's value written on it (when bars are wide enough; always in its title)


def _percent(t: Translator, value: Decimal | None) -> str:
    return "—" if value is None else f"{t.number(float(value), 1)}%"


def chart(report: AttainmentReport, t: Translator) -> Chart | None:
    """On-time rate per month (the monthly totals) over several months; per agency over one."""
    objective = report.quality_objective
    series: list[tuple[str, dict[str, Any]]]
    if len(report.totals) > 1:
        series = [(f"{r.month[5:]}/{r.month[:4]}", r.model_dump()) for r in report.totals]
        title = t("reports.chart_months")
    else:
        agencies: dict[str, Counter[str]] = {}
        for row in report.rows:
            agencies.setdefault(row.agency, Counter()).update({n: getattr(row, n) for n in ontime.COUNTS})
        series = [(agency, {**counts, **ontime.summary(counts, objective)})
                  for agency, counts in sorted(agencies.items())]
        title = t("reports.chart_agencies")
    if not series or all(row["resolved"] + row["open_overdue"] == 0 for _, row in series):
        return None
    total = len(series)
    series = series[:MAX_BARS]
    width, left, right, top, bottom = 760, 48, 650, 16, 206  # the objective's label right of the plot
    slot = (right - left) / len(series)
    bar_width = min(56.0, slot * 0.7)
    longest = max(len(label) for label, _ in series) * 6.5
    rotate = slot < longest + 10
    height = bottom + (round(longest * 0.72) + 22 if rotate else 26)
    span = bottom - top
    bars = []
    for index, (label, counts) in enumerate(series):
        value = ontime.shown_percent(counts, objective)
        met = counts.get("meets_objective")
        level = "none" if met is None else "ok" if met else "bad"
        bar_height = 0.0 if value is None else float(value) / 100 * span
        x = left + index * slot + (slot - bar_width) / 2
        inside = bar_height >= 20
        text = _percent(t, value) if value is not None else t("reports.no_rate")
        bars.append(Bar(label, t("reports.bar_title", label=label, value=text), _percent(t, value), level,
                        round(x, 1), round(bottom - bar_height, 1), round(bar_width, 1), round(bar_height, 1),
                        round(x + bar_width / 2, 1),
                        round(bottom - bar_height + 14 if inside else bottom - bar_height - 5, 1), inside))
    objective_y = round(bottom - objective * span, 1)
    return Chart(title=title, desc=t("reports.chart_desc", count=len(bars), objective=t.percent(objective)),
                 bars=bars, more=t("reports.chart_more", shown=len(bars), total=total) if total > len(bars) else None,
                 width=width, height=height, left=left, right=right, top=top, bottom=bottom,
                 grid=[(round(bottom - share / 100 * span, 1), f"{share}%") for share in (0, 25, 50, 75, 100)],
                 objective_y=objective_y, objective_label_y=round(objective_y + 4, 1),
                 objective_text=t("reports.objective_short", value=t.percent(objective)), rotate=rotate,
                 values=bar_width >= 40)


# ---------------------------------------------------------------------------------------------------- context

def _grafana(request: Request, filters: Filters) -> list[tuple[str, str]]:
    """Links to the leaders' dashboards, on the filters' agency (and procedure) and period, when Grafana is set."""
    base: str | None = request.app.state.console_settings.grafana_url
    if not base or not base.startswith(("http://", "https://")):
        return []
    base = base.rstrip("/")
    common: list[tuple[str, str]] = []
    if filters.period is not None:
        common += [("from", str(int(filters.period.start.timestamp() * 1000))),
                   ("to", str(int(filters.period.end.timestamp() * 1000)))]
    if filters.agency:
        common.append(("var-agency", filters.agency))
    procedure = [("var-procedure", filters.procedure)] if filters.procedure else []

    def link(uid: str, params: list[tuple[str, str]]) -> str:
        return f"{base}/d/{uid}" + (f"?{urlencode(params)}" if params else "")

    return [("reports.grafana_leaders", link(GRAFANA_LEADERS, common)),
            ("reports.grafana_procedure", link(GRAFANA_PROCEDURE, procedure + common))]


def _render(request: Request, template: str, user: Principal, filters: Filters, procedures: Mapping[str, str],
            current: str, **context: Any) -> Response:
    t: Translator = request.state.translator
    notice = None
    agency = filters.agency
    if agency and not user.scope.covers(agency):
        notice = t("reports.outside_scope", agency=agency)
    status = 422 if filters.errors else 200
    return page(request, template, status=status, filters=filters, errors=filters.errors, written=filters.written,
                filter_query=urlencode(filters.params()), procedures=sorted(procedures.items()),
                scope_codes=list(user.scope.codes) if not user.scope.everything else [],
                reports=list(REPORTS.items()), current=current, notice=notice,
                grafana_links=_grafana(request, filters),
                period_text=t("reports.period", start=t.date(filters.first), end=t.date(filters.last))
                if filters.query is not None else None, **context)


def _attainment(q: ReportQuery, user: Principal, eiso: App, session: Session) -> AttainmentReport:
    report = api.attainment(q, user, eiso, session, None)
    assert isinstance(report, AttainmentReport)
    return report


# ---------------------------------------------------------------------------------------------------- pages

@router.get("/reports", include_in_schema=False)
def overview(request: Request, user: PageUser, eiso: AppDep, session: SessionDep) -> Response:
    """Links to each report, and the attainment summary: the monthly totals and their chart."""
    require(user, roles.READERS)
    procedures = _procedures(user, session)
    filters = _filters(request, eiso, procedures)
    totals = drawn = objective = None
    if filters.query is not None:
        report = _attainment(filters.query, user, eiso, session)
        labels = LABELS[filters.query.lang]
        monthly = report.tables()[1]  # the totals as totals rows: their "*" reads "Total"
        totals = shown(replace(monthly, rows=(), totals=monthly.rows), request.state.translator, labels)
        drawn, objective = chart(report, request.state.translator), report.quality_objective
    return _render(request, "reports/overview.html", user, filters, procedures, "", totals=totals, chart=drawn,
                   objective=objective)


@router.get("/reports/attainment", include_in_schema=False)
def attainment(request: Request, user: PageUser, eiso: AppDep, session: SessionDep) -> Response:
    require(user, roles.READERS)
    procedures = _procedures(user, session)
    filters = _filters(request, eiso, procedures)
    table = drawn = objective = None
    if filters.query is not None:
        report = _attainment(filters.query, user, eiso, session)
        table = by_month(shown(report.tables()[0], request.state.translator, LABELS[filters.query.lang]))
        drawn, objective = chart(report, request.state.translator), report.quality_objective
    return _render(request, "reports/attainment.html", user, filters, procedures, "attainment", table=table,
                   chart=drawn, objective=objective, sections=["attainment", "totals"])


@router.get("/reports/bottlenecks", include_in_schema=False)
def bottlenecks(request: Request, user: PageUser, eiso: AppDep, session: SessionDep) -> Response:
    require(user, roles.READERS)
    procedures = _procedures(user, session)
    filters = _filters(request, eiso, procedures)
    table = None
    if filters.query is not None:
        report = api.bottlenecks(filters.query, user, eiso, session)
        assert isinstance(report, bottlenecks_.BottleneckReport)
        table = shown(Table("steps", bottlenecks_.COLUMNS, _dumped(report.steps)), request.state.translator,
                      LABELS[filters.query.lang])
    return _render(request, "reports/bottlenecks.html", user, filters, procedures, "bottlenecks", table=table,
                   sections=["steps"])


@router.get("/reports/nonconformities", include_in_schema=False)
def nonconformities(request: Request, user: PageUser, eiso: AppDep, session: SessionDep) -> Response:
    require(user, roles.READERS)
    procedures = _procedures(user, session)
    filters = _filters(request, eiso, procedures)
    by_type = by_cause = report = None
    if filters.query is not None:
        report = api.nonconformities(filters.query, user, eiso, session)
        assert isinstance(report, pareto_.NonconformityReport)
        t, labels = request.state.translator, LABELS[filters.query.lang]
        by_type = shown(Table("by_type", pareto_.COLUMNS, _dumped(report.by_type), pareto_.KINDS,
                              heading_keys={"category": "type_code"}), t, labels)
        by_cause = shown(Table("by_root_cause", pareto_.COLUMNS, _dumped(report.by_root_cause), pareto_.KINDS,
                               heading_keys={"category": "cause_code"}), t, labels)
    return _render(request, "reports/nonconformities.html", user, filters, procedures, "nonconformities",
                   by_type=by_type, by_cause=by_cause, report=report, sections=["by_type", "by_root_cause"])


@router.get("/reports/circular-01", include_in_schema=False)
def circular01(request: Request, user: PageUser, eiso: AppDep, session: SessionDep,
               offset: int = Query(0, ge=0, le=10_000_000)) -> Response:
    require(user, roles.READERS)
    procedures = _procedures(user, session)
    filters = _filters(request, eiso, procedures)
    agencies = units = dossiers = report = None
    pages: dict[str, Any] = {}
    if filters.query is not None:
        report = api.circular01(filters.query, user, eiso, session, DOSSIERS_PER_PAGE, offset)
        assert isinstance(report, circular01_.Circular01Report)
        t, labels = request.state.translator, LABELS[filters.query.lang]
        agencies = shown(Table("agencies", circular01_.AGENCY_COLUMNS, _dumped(report.agencies)), t, labels)
        units = shown(Table("units", circular01_.UNIT_COLUMNS, _dumped(report.units)), t, labels)
        dossiers = shown(Table("dossiers", circular01_.DOSSIER_COLUMNS, _dumped(report.dossiers),
                               {"timeliness": "label"}), t, labels)
        base = "/console/reports/circular-01?" + urlencode(filters.params())
        before = max(0, offset - DOSSIERS_PER_PAGE)
        pages = {
            "previous": f"{base}&offset={before}" if offset > 0 else None,
            "next": f"{base}&offset={offset + DOSSIERS_PER_PAGE}"
            if offset + DOSSIERS_PER_PAGE < report.dossiers_total else None,
            "first": offset + 1, "last": offset + len(report.dossiers), "total": report.dossiers_total,
        }
    return _render(request, "reports/circular01.html", user, filters, procedures, "circular-01", agencies=agencies,
                   units=units, dossiers=dossiers, report=report, pages=pages,
                   sections=["agencies", "units", "dossiers"])


# ---------------------------------------------------------------------------------------------------- downloads

def _download(request: Request, user: Principal, eiso: App, session: Session, report: str, format: Format,
              section: str | None) -> Response:
    require(user, roles.READERS)
    if report not in REPORTS:
        return page(request, "error.html", status=404, status_code=404, message="error.404")
    procedures = _procedures(user, session)
    try:
        filters = _filters(request, eiso, procedures, format, section)
    except ApiError:  # a section no report has
        return page(request, "error.html", status=422, status_code=422, message="error.422")
    if filters.query is None:
        return _render(request, "reports/filters_only.html", user, filters, procedures, report)
    q = filters.query
    answer: object
    try:
        if report == "attainment":
            answer = api.attainment(q, user, eiso, session, None)
        elif report == "bottlenecks":
            answer = api.bottlenecks(q, user, eiso, session)
        elif report == "nonconformities":
            answer = api.nonconformities(q, user, eiso, session)
        else:
            answer = api.circular01(q, user, eiso, session)
    except ApiError:  # a section of another report
        return page(request, "error.html", status=422, status_code=422, message="error.422")
    assert isinstance(answer, Response)
    return answer


@router.get("/reports/{report}.csv", include_in_schema=False)
def download_csv(request: Request, report: str, user: PageUser, eiso: AppDep, session: SessionDep,
                 section: str | None = Query(None, max_length=32)) -> Response:
    """The API's CSV of the report (one table: ``section``, default its first) for the page's filters."""
    return _download(request, user, eiso, session, report, Format.csv, section)


@router.get("/reports/{report}.xlsx", include_in_schema=False)
def download_xlsx(request: Request, report: str, user: PageUser, eiso: AppDep, session: SessionDep) -> Response:
    """The API's XLSX of the report (a sheet per table) for the page's filters."""
    return _download(request, user, eiso, session, report, Format.xlsx, None)


