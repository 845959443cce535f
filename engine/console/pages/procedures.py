"""The procedures pages: the versions a user sees, one version with its diagram and the statistics of each
step, a step's overdue cases, and the version's BPMN file.

Every answer is the API's: the list is ``GET /procedures`` (``list_versions``), a version is ``GET
/procedures/{code}/versions/{version}`` (``get_version``, the same 404 for another agency's version), the file
is ``.../bpmn`` (``download``, its RFC 6266 header included) and the numbers are ``GET /reports/steps``
(``engine.api.routers.reports.steps`` over ``engine.reporting.steps``). The console adds the open cases per
version (one grouped count) and the list of a step's overdue cases (the statistics' own ``step_overdue``).

Those three are counts over the open cases (most of a million, at a province's scale): each is kept for
``Recent.TTL`` seconds per console process and per user scope (``Recent``), so that many people looking at the
same procedure cost one count, not one each; the page says when its numbers were counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select
from sqlmodel import Session
from starlette.exceptions import HTTPException

from engine.api import roles
from engine.api.deps import Principal
from engine.api.errors import ApiError
from engine.api.models.procedures import ProcedureVersionPublic
from engine.api.reporting.steps import StepQuery, StepReport
from engine.api.routers import reports as reports_api
from engine.api.routers.procedures import Code, Version, download, get_version, list_versions, requested_scope
from engine.api.scope import BadAgencyCode, check_code
from engine.bootstrap import App
from engine.console.auth import PageUser, may, require
from engine.console.i18n import Translator, parse_date
from engine.console.pages.conformance import Conformance, practice_picture, procedure_conformance, shown
from engine.console.render import page
from engine.core.agency import EVERY_AGENCY, MAX_SCOPE_AGENCIES, scope_agencies
from engine.core.states import OPEN_STATUSES, StepStatus
from engine.reporting.steps import OK_BELOW, WARN_BELOW, Level, StepStatistics, hours, step_overdue
from engine.store.cases import CASES, STEPS

router = APIRouter()
log = logging.getLogger("eiso.console")

LIST_PAGE = 100  # versions per page of the list
OVERDUE_PAGE = 50  # cases per page of a step's overdue list
MAX_OFFSET = 100_000
MAX_TEXT = 100  # longest query value read (an agency code, a date); beyond it the value is refused
STATES = ("", "in_force", "retired")
LEVELS = (Level.OK, Level.WARN, Level.BAD, Level.NONE)


_T = TypeVar("_T")


def _eiso(request: Request) -> App:
    eiso: App = request.app.state.eiso
    return eiso


@dataclass
class _Entry:
    value: Any
    at: datetime  # the application clock when it was counted
    counted: float  # time.monotonic() then


class Recent:
    """Answers of the expensive counts, at most ``SIZE`` of them, each with the instant it was counted at.

    Younger than ``TTL`` seconds (by the wall clock and by the application's clock, so that a test whose clock
    moved on counts again), an answer is given as it is. Older, up to ``STALE`` seconds, it is still given at
    once while one count of the key runs in the background (at most ``BACKGROUND`` of them at a time, or the
    next request tries again). Older still, or never counted, the request counts; others asking for the same
    key meanwhile wait for that count instead of counting too. ``count`` opens its own database session.
    """

    TTL = 30.0
    STALE = 120.0
    SIZE = 512
    BACKGROUND = 2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._counting: dict[Hashable, threading.Event] = {}
        self._background = threading.BoundedSemaphore(self.BACKGROUND)

    @staticmethod
    def _age(entry: _Entry, now: datetime) -> float:
        return max(time.monotonic() - entry.counted, abs((now - entry.at).total_seconds()))

    def get(self, key: Hashable, now: datetime, count: Callable[[], _T]) -> tuple[_T, datetime]:
        """The value of ``key`` and the instant it was counted at: a recent one, else ``count()`` (at ``now``)."""
        while True:
            with self._lock:
                entry = self._entries.get(key)
                age = self._age(entry, now) if entry is not None else None
                busy = self._counting.get(key)
                if entry is not None and age is not None and age < self.STALE:
                    self._entries.move_to_end(key)
                    if age >= self.TTL and busy is None and self._background.acquire(blocking=False):
                        self._counting[key] = threading.Event()
                        threading.Thread(target=self._recount, args=(key, now, count), daemon=True,
                                         name="console-recount").start()
                    return entry.value, entry.at
                if busy is None:
                    self._counting[key] = threading.Event()
                    break
            busy.wait(timeout=120)
        return self._count(key, now, count), now

    def _count(self, key: Hashable, now: datetime, count: Callable[[], _T]) -> _T:
        try:
            value = count()
            with self._lock:
                self._entries[key] = _Entry(value, now, time.monotonic())
                self._entries.move_to_end(key)
                while len(self._entries) > self.SIZE:
                    self._entries.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._counting.pop(key).set()

    def _recount(self, key: Hashable, now: datetime, count: Callable[[], Any]) -> None:
        try:
            self._count(key, now, count)
        except Exception:  # the last answer stays; the next request after it tries again
            log.exception("counting %r again failed", key[0] if isinstance(key, tuple) and key else key)
        finally:
            self._background.release()


_RECENT_LOCK = threading.Lock()


def _recent(request: Request) -> Recent:
    """The console's ``Recent`` (one per console application, so per database)."""
    state = request.app.state
    with _RECENT_LOCK:
        found: Recent | None = getattr(state, "procedure_counts", None)
        if found is None:
            found = Recent()
            state.procedure_counts = found
        return found


def _scope_of(user: Principal) -> Hashable:
    return (user.scope.everything, user.scope.codes)


@contextmanager
def _as_page() -> Iterator[None]:
    """An ``ApiError`` of the API's functions as the console's error page of the same status."""
    try:
        yield
    except ApiError as err:
        raise HTTPException(err.status) from None


def _session(eiso: App) -> Session:
    return Session(eiso.engine)


# ---- query values -----------------------------------------------------------------------------------------

def _text(value: str | None) -> str:
    return (value or "").strip()


def _offset(value: str | None) -> int:
    """A page offset; ``ValueError`` for anything but a whole number in 0..MAX_OFFSET."""
    text = _text(value)
    if not text:
        return 0
    if len(text) > 7 or not text.isdigit() or int(text) > MAX_OFFSET:
        raise ValueError(text)
    return int(text)


def _scope_key(request: Request, value: str | None) -> str:
    """The version's scope key from ``?scope=`` (``*`` or agency codes joined by commas); empty: every agency.
    Not a scope key: the 422 page."""
    text = _text(value)
    if not text or text == EVERY_AGENCY:
        return EVERY_AGENCY
    codes = text.split(",")
    if len(text) > MAX_SCOPE_AGENCIES * (MAX_TEXT + 1) or len(codes) > MAX_SCOPE_AGENCIES:
        raise HTTPException(422)
    with _as_page():
        return requested_scope(_eiso(request), [code.strip() for code in codes])


def _agency(user: Principal, value: str | None) -> str | None:
    """The agency filter: an agency code the user sees (within their agencies), else ``ValueError``
    whose text is the message key saying why."""
    text = _text(value)
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise ValueError("procedures.bad_agency")
    try:
        check_code(text)
    except BadAgencyCode:
        raise ValueError("procedures.bad_agency") from None
    if not user.scope.covers(text):
        raise ValueError("procedures.agency_outside")
    return text


def version_url(code: str, version: int, scope: str, **params: str) -> str:
    """The page of one version; ``scope`` is the version's scope key (left out for every agency)."""
    query = {"scope": scope} if scope != EVERY_AGENCY else {}
    query.update({key: value for key, value in params.items() if value})
    url = f"/console/procedures/{quote(code, safe='')}/versions/{version}"
    return url + ("?" + urlencode(query) if query else "")


def _sub_url(code: str, version: int, tail: str, scope: str, **params: str) -> str:
    base, _, query = version_url(code, version, scope, **params).partition("?")
    return base + tail + ("?" + query if query else "")


def bpmn_url(code: str, version: int, scope: str) -> str:
    return _sub_url(code, version, "/bpmn", scope)


def overdue_url(code: str, version: int, scope: str, step: str, agency: str | None = None) -> str:
    return _sub_url(code, version, f"/steps/{quote(step, safe='')}/overdue", scope, agency=agency or "")


def modeller_url(code: str, version: int, scope: str) -> str:
    return "/console/modeller?" + urlencode({"code": code, "version": version, "scope": scope})


# ---- the list ---------------------------------------------------------------------------------------------

@dataclass
class ListedVersion:
    version: ProcedureVersionPublic
    url: str
    statutory_days: float
    open_cases: int


@dataclass
class ListedProcedure:
    code: str
    versions: list[ListedVersion] = field(default_factory=list)


def open_cases_by_agency(eiso: App) -> dict[tuple[str, str, int, str], int]:
    """Open cases per (code, scope, version, agency): one grouped count over the cases table, never a query per
    version; counted for every agency at once, so that one count (kept by ``Recent``) serves every user."""
    c = CASES.c
    with _session(eiso) as session:
        rows = session.execute(
            select(c.procedure, c.procedure_scope, c.procedure_version, c.agency, func.count())
            .where(c.status.in_(OPEN_STATUSES))
            .group_by(c.procedure, c.procedure_scope, c.procedure_version, c.agency)).all()
    return {(code, scope, int(version), agency): int(count) for code, scope, version, agency, count in rows}


def open_cases(counts: dict[tuple[str, str, int, str], int], user: Principal) -> dict[tuple[str, str, int], int]:
    """Of ``open_cases_by_agency``, those of the agencies the user sees (``AgencyScope.covers``), per version."""
    mine: dict[tuple[str, str, int], int] = {}
    for (code, scope, version, agency), count in counts.items():
        if user.scope.covers(agency):
            mine[code, scope, version] = mine.get((code, scope, version), 0) + count
    return mine


def _days(eiso: App, working_hours: float) -> float:
    return working_hours * 3600 / eiso.calendar.day_seconds


@router.get("/procedures", include_in_schema=False)
def procedure_list(request: Request, user: PageUser, code: str | None = None, state: str | None = None,
                   offset: str | None = None) -> Response:
    require(user, roles.READERS)
    eiso = _eiso(request)
    errors: dict[str, str] = {}
    wanted_code = _text(code)
    if len(wanted_code) > 64:
        errors["code"] = "procedures.bad_code"
    wanted_state = _text(state)
    if wanted_state not in STATES:
        errors["state"] = "procedures.bad_state"
    try:
        skip = _offset(offset)
    except ValueError:
        errors["offset"] = "procedures.bad_offset"
        skip = 0
    procedures: list[ListedProcedure] = []
    more = False
    counted_at = None
    if not errors:
        in_force = None if not wanted_state else wanted_state == "in_force"
        with _session(eiso) as session:
            listed = list_versions(user, eiso, session, code=wanted_code or None, in_force=in_force,
                                   limit=LIST_PAGE + 1, offset=skip)
        more = len(listed) > LIST_PAGE
        listed = listed[:LIST_PAGE]
        by_agency, counted_at = _recent(request).get(("open",), eiso.clock.now(), lambda: open_cases_by_agency(eiso))
        counts = open_cases(by_agency, user)
        for procedure_code, versions in groupby(listed, key=lambda v: v.code):
            procedures.append(ListedProcedure(procedure_code, [
                ListedVersion(v, version_url(v.code, v.version, v.scope), _days(eiso, v.statutory_limit_working_hours),
                              counts.get((v.code, v.scope, v.version), 0)) for v in versions]))

    def at(new_offset: int) -> str:
        params = {"code": wanted_code, "state": wanted_state, "offset": str(new_offset) if new_offset else ""}
        query = urlencode({key: value for key, value in params.items() if value})
        return "/console/procedures" + ("?" + query if query else "")

    return page(request, "procedures/list.html", status=422 if errors else 200, procedures=procedures,
                errors=errors, code=wanted_code[:64], state=wanted_state if wanted_state in STATES else "",
                previous_url=at(max(0, skip - LIST_PAGE)) if skip and not errors else None,
                next_url=at(skip + LIST_PAGE) if more else None,
                may_write=may(user, roles.PROCEDURE_WRITERS), counted_at=counted_at)


# ---- one version ------------------------------------------------------------------------------------------

@dataclass
class Filters:
    """The version page's period and agency, as written in the form, and what they mean."""

    start_text: str
    end_text: str
    agency: str | None
    agency_text: str
    start: date | None = None
    last: date | None = None  # the period's last day (the form's "to"), included
    errors: dict[str, str] = field(default_factory=dict)


def _filters(user: Principal, today: date, start: str | None, end: str | None, agency: str | None) -> Filters:
    """The form's values; the default period is this month so far (from the first, to today)."""
    start_text, end_text, agency_text = _text(start)[:MAX_TEXT], _text(end)[:MAX_TEXT], _text(agency)[:MAX_TEXT]
    found = Filters(start_text, end_text, None, agency_text)
    for name, text in (("from", _text(start)), ("to", _text(end))):
        try:
            value = parse_date(text) if len(text) <= MAX_TEXT else None
            if value is None and text:
                raise ValueError(text)
        except ValueError:
            found.errors[name] = "common.bad_date"
            continue
        if name == "from":
            found.start = value or today.replace(day=1)
        else:
            found.last = value or today
    try:
        found.agency = _agency(user, agency)
    except ValueError as err:
        found.errors["agency"] = str(err)
    return found


@dataclass(frozen=True)
class StepRow:
    """One task of the version: the reporting module's numbers and where its overdue cases are listed."""

    stats: StepStatistics
    overdue_url: str


def step_stats(eiso: App, user: Principal, code: str, version: int, scope: str,
               start: date, last: date, agency: str | None) -> StepReport:
    """The numbers of ``GET /reports/steps`` for this user, version, period (``start`` to ``last`` included)
    and agency: the API's own route function (``ApiError`` as it raises them)."""
    query = StepQuery(procedure=code, version=version, start=start, end=last + timedelta(days=1), agency=agency)
    with _session(eiso) as session:
        report = reports_api.steps(query, user, eiso, session, scope=list(scope_agencies(scope)) or None)
    assert isinstance(report, StepReport)
    return report


def _stats_json(t: Translator, rows: list[StepRow]) -> dict[str, Any]:
    """What ``static/diagram.js`` draws: per BPMN element id, the numbers of its badge and its link."""
    return {
        "steps": [{"step": row.stats.step, "name": row.stats.name, "waiting": row.stats.waiting,
                   "overdue": row.stats.overdue, "completed": row.stats.completed,
                   "completed_late": row.stats.completed_late, "level": row.stats.level.value,
                   "url": row.overdue_url} for row in rows],
        "labels": {"waiting": t("procedures.badge_waiting"), "overdue": t("procedures.badge_overdue"),
                   "late": t("procedures.badge_late"), "open": t("procedures.badge_open"),
                   "failed": t("procedures.diagram_failed")},
    }


@router.get("/procedures/{code}/versions/{version}", include_in_schema=False)
def version_page(request: Request, user: PageUser, code: Code, version: Version, scope: str | None = None,
                 agency: str | None = None, start: str | None = Query(None, alias="from"),
                 end: str | None = Query(None, alias="to")) -> Response:
    require(user, roles.READERS)
    eiso = _eiso(request)
    key = _scope_key(request, scope)
    today = eiso.calendar.local(eiso.clock.now()).date()
    filters = _filters(user, today, start, end, agency)
    report: StepReport | None = None
    counted_at = eiso.clock.now()
    with _session(eiso) as session, _as_page():
        facts = get_version(code, version, user, eiso, session, agency=list(scope_agencies(key)) or None)
        others = [v for v in list_versions(user, eiso, session, code=code) if (v.scope, v.version) != (key, version)]
    start_day, last_day = filters.start, filters.last
    if not filters.errors and start_day is not None and last_day is not None:
        try:
            report, counted_at = _recent(request).get(
                ("steps", _scope_of(user), code, version, key, start_day, last_day, filters.agency), counted_at,
                lambda: step_stats(eiso, user, code, version, key, start_day, last_day, filters.agency))
        except ApiError as err:
            if err.status != 422:
                raise HTTPException(err.status) from None
            filters.errors["to"] = "procedures.bad_period"
    conformance: Conformance | None = None
    if report is not None and start_day is not None and last_day is not None:
        figures, _ = _recent(request).get(
            ("conformance", _scope_of(user), code, start_day, last_day, filters.agency), counted_at,
            lambda: procedure_conformance(eiso, user, code, start_day, last_day, filters.agency))
        conformance = shown(figures, request.state.translator.language)
    rows = [StepRow(s, overdue_url(code, version, key, s.step, filters.agency)) for s in report.steps] if report else []
    agencies = sorted(set(user.scope.codes) | {a for a in scope_agencies(key) if user.scope.covers(a)})
    return page(
        request, "procedures/version.html", status=422 if filters.errors else 200, facts=facts, key=key,
        statutory_days=_days(eiso, facts.statutory_limit_working_hours), filters=filters, rows=rows, report=report,
        stats=_stats_json(request.state.translator, rows), agencies=agencies,
        bpmn_url=bpmn_url(code, version, key), version_url=version_url(code, version, key),
        others=[(v, version_url(v.code, v.version, v.scope)) for v in others],
        modeller_url=modeller_url(code, version, key) if may(user, roles.PROCEDURE_WRITERS) else None,
        levels=LEVELS, ok_below=OK_BELOW, warn_below=WARN_BELOW,
        period_start=filters.start, period_last=filters.last, now=counted_at, conformance=conformance,
        practice_url=_sub_url(code, version, "/practice.svg", key, agency=filters.agency or "",
                              **{"from": filters.start_text, "to": filters.end_text}))


@router.get("/procedures/{code}/versions/{version}/practice.svg", include_in_schema=False)
def practice_page(request: Request, user: PageUser, code: Code, version: Version, scope: str | None = None,
                  agency: str | None = None, start: str | None = Query(None, alias="from"),
                  end: str | None = Query(None, alias="to")) -> Response:
    """Practice beside the procedure (``engine.reporting.practice_svg``) for the version page's period and
    agency, within the user's agencies, in the page's language; the 404 page for a version not the user's."""
    require(user, roles.READERS)
    eiso = _eiso(request)
    key = _scope_key(request, scope)
    today = eiso.calendar.local(eiso.clock.now()).date()
    filters = _filters(user, today, start, end, agency)
    with _session(eiso) as session, _as_page():
        get_version(code, version, user, eiso, session, agency=list(scope_agencies(key)) or None)
    if filters.errors or filters.start is None or filters.last is None:
        raise HTTPException(422)
    t: Translator = request.state.translator
    with _as_page():
        picture = practice_picture(eiso, user, code, filters.start, filters.last, filters.agency, t.language,
                                   t("procedures.conformance_none"))
    return Response(picture, media_type="image/svg+xml")


@router.get("/procedures/{code}/versions/{version}/bpmn", include_in_schema=False)
def version_bpmn(request: Request, user: PageUser, code: Code, version: Version, scope: str | None = None) -> Response:
    """The version's BPMN XML for the signed-in user: the API's download (scope check, file name header)."""
    require(user, roles.READERS)
    eiso = _eiso(request)
    key = _scope_key(request, scope)
    with _session(eiso) as session, _as_page():
        return download(code, version, user, eiso, session, agency=list(scope_agencies(key)) or None)


# ---- a step's overdue cases -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OverdueCase:
    case_id: str
    agency: str
    received_at: datetime
    due_at: datetime
    late_hours: float

    @property
    def url(self) -> str:
        return "/console/cases/" + quote(self.case_id, safe="")


def overdue_cases(eiso: App, user: Principal, code: str, version: int, scope: str, step: str,
                  agency: str | None, now: datetime, limit: int, offset: int) -> list[OverdueCase]:
    """The cases whose ``step`` of this version is overdue now, most overdue first: the rows the statistics
    count as ``overdue`` (an active step of an open case of the version, past ``step_overdue``), within the
    user's agencies and the agency filter (the statistics' own ``StepQuery.where``)."""
    s, c = STEPS.c, CASES.c
    where = StepQuery(procedure=code, version=version, agency=agency).where(user, s.agency, s.procedure)
    with _session(eiso) as session:
        rows = session.execute(
            select(s.case_id, s.agency, c.received_at, s.due_at)
            .select_from(STEPS.join(CASES, c.case_id == s.case_id))
            .where(where, c.procedure == code, c.procedure_version == version, c.procedure_scope == scope,
                   s.step == step, s.status == StepStatus.ACTIVE, c.status.in_(OPEN_STATUSES), step_overdue(s, now))
            .order_by(s.due_at, s.case_id, s.seq).limit(limit).offset(offset)).all()
    return [OverdueCase(case_id, case_agency, received_at, due_at, hours(eiso.calendar.between(due_at, now)))
            for case_id, case_agency, received_at, due_at in rows]


@router.get("/procedures/{code}/versions/{version}/steps/{step}/overdue", include_in_schema=False)
def step_overdue_page(request: Request, user: PageUser, code: Code, version: Version, step: str,
                      scope: str | None = None, agency: str | None = None, offset: str | None = None) -> Response:
    require(user, roles.READERS)
    eiso = _eiso(request)
    key = _scope_key(request, scope)
    errors: dict[str, str] = {}
    try:
        wanted = _agency(user, agency)
    except ValueError as err:
        errors["agency"], wanted = str(err), None
    try:
        skip = _offset(offset)
    except ValueError:
        errors["offset"], skip = "procedures.bad_offset", 0
    instant = now = eiso.clock.now()
    cases: list[OverdueCase] = []
    with _session(eiso) as session, _as_page():
        facts = get_version(code, version, user, eiso, session, agency=list(scope_agencies(key)) or None)
        definition = eiso.catalog.get(code, version, key).definition.steps.get(step)
        if definition is None:
            raise HTTPException(404)
    if not errors:
        cases, now = _recent(request).get(
            ("overdue", _scope_of(user), code, version, key, step, wanted, skip), instant,
            lambda: overdue_cases(eiso, user, code, version, key, step, wanted, instant, OVERDUE_PAGE + 1, skip))
    more = len(cases) > OVERDUE_PAGE

    def at(new_offset: int) -> str:
        url = overdue_url(code, version, key, step, wanted)
        return url + ("&" if "?" in url else "?") + f"offset={new_offset}" if new_offset else url

    return page(request, "procedures/overdue.html", status=422 if errors else 200, facts=facts, key=key,
                step=definition, cases=cases[:OVERDUE_PAGE], errors=errors, agency=wanted,
                agency_text=_text(agency)[:MAX_TEXT], offset=skip, now=now,
                agencies=sorted(set(user.scope.codes) | {a for a in scope_agencies(key) if user.scope.covers(a)}),
                version_url=version_url(code, version, key, agency=wanted or ""),
                previous_url=at(max(0, skip - OVERDUE_PAGE)) if skip and not errors else None,
                next_url=at(skip + OVERDUE_PAGE) if more else None)
