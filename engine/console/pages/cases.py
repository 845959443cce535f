"""The cases pages: the list with its filters, a case's page (the Form 05 process control slip, its path on
the diagram, the event timeline), the Form 04 slip and the diagram's XML.

Every answer comes from the API's own functions (``engine.api.routers.cases``: the list query, the
scope check, the control slip, the timeline, the Form 04 slip) and the reporting module's rule for a
step overdue now: a page shows exactly what the same user's token gets from the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session, col, select
from starlette.exceptions import HTTPException

from engine.api import roles
from engine.api.deps import Principal, get_presenter
from engine.api.errors import ApiError
from engine.api.models.cases import ControlSlipPublic, SlipStepPublic, TimelineEntryPublic
from engine.api.routers import cases as api
from engine.api.scope import check_code
from engine.application.apology import ApologySlip, CaseNotFound, NoApologyDue, apology_slip
from engine.bootstrap import App
from engine.console.auth import PageUser, require
from engine.console.filters import days_between, page_url, paging, whole
from engine.console.i18n import Translator
from engine.console.render import page
from engine.core.events import CASE_RECEIVED, MAX_LENGTHS, STEP_COMPLETED, STEP_STARTED
from engine.core.procedure import LoadedProcedure
from engine.core.states import CaseStatus, StepStatus, Timeliness
from engine.reporting.steps import step_overdue
from engine.store.apology import SqlApologyReads
from engine.store.tables import CaseStepRow, JournalEntry

router = APIRouter()

PAGE_SIZE, MAX_PAGE = 50, 500
TIMELINE_PAGE = 100
MAX_CASE_ID = MAX_LENGTHS["case_id"]
MAX_PROCEDURE = 64
# The journal entries read to name who handed a case over (a case's events, by the (case_id, seq) index).
HANDOVER_EVENTS = 2000
FILTERS = ("case_id", "agency", "procedure", "status", "timeliness", "overdue", "received_from", "received_to")


def _eiso(request: Request) -> App:
    eiso: App = request.app.state.eiso
    return eiso


# -- the list ------------------------------------------------------------------------------------------


@dataclass
class ListForm:
    """The list's query as typed (``values``), its problems by field (message keys) and, when valid, the filters."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    filters: api.CaseFilters | None = None
    limit: int = PAGE_SIZE
    offset: int = 0



class _YesNo(StrEnum):
    YES = "true"
    NO = "false"


def _choice(kind: Any, text: str | None, name: str, errors: dict[str, str]) -> Any:
    """``text`` as a member of the enumeration ``kind``, None when empty; a wrong one is an error of ``name``."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        errors[name] = "cases.error.choice"
        return None


def _received(text: dict[str, str | None], eiso: App, errors: dict[str, str]) -> tuple[datetime | None, ...]:
    """The "received between" dates as the API's instants: from the first day's start to the last day's end
    (the API's received_to is the next day's start)."""
    return days_between(text, "received_from", "received_to", eiso.calendar.zone, errors, "cases.error.order")


def read_filters(request: Request, eiso: App) -> ListForm:
    """The list's filters from the query: each bad value named beside its field, never a 500."""
    params = request.query_params
    values = {name: params.get(name, "") for name in FILTERS}
    form = ListForm(values=values)
    errors = form.errors
    text: dict[str, str | None] = {name: (value.strip() or None) for name, value in values.items()}
    agency = text["agency"]
    if agency is not None:
        try:
            check_code(agency)
        except ValueError:
            errors["agency"] = "cases.error.agency"
    for name, most in (("procedure", MAX_PROCEDURE), ("case_id", MAX_CASE_ID)):
        value = text[name]
        if value is not None and len(value) > most:
            errors[name] = "cases.error.too_long"
    status = _choice(CaseStatus, text["status"], "status", errors)
    timeliness = _choice(Timeliness, text["timeliness"], "timeliness", errors)
    overdue = _choice(_YesNo, text["overdue"], "overdue", errors)
    since, until = _received(text, eiso, errors)
    page = paging(params, PAGE_SIZE, MAX_PAGE)
    if page is None:
        form.problem = "cases.error.paging"
    else:
        form.limit, form.offset = page
    if errors or form.problem:
        return form
    form.filters = api.CaseFilters(agency=agency, procedure=text["procedure"], status=status, timeliness=timeliness,
                                   overdue=None if overdue is None else overdue is _YesNo.YES,
                                   received_from=since, received_to=until, case_id=text["case_id"])
    return form


def _list_url(values: dict[str, str], limit: int, offset: int) -> str:
    query = {name: value.strip() for name, value in values.items() if value.strip()}
    return page_url("/console/cases", query, PAGE_SIZE, limit, offset)


@router.get("/cases", response_class=HTMLResponse)
def case_list(request: Request, user: PageUser) -> Response:
    require(user, roles.READERS)
    eiso = _eiso(request)
    t: Translator = request.state.translator
    form = read_filters(request, eiso)
    result = None
    previous_url = next_url = None
    if form.filters is not None:
        with Session(eiso.engine) as session:
            result = api.case_list(session, eiso, user, form.filters, form.limit, form.offset)
        if form.offset > 0:
            previous_url = _list_url(form.values, form.limit, max(form.offset - form.limit, 0))
        if form.offset + len(result.items) < result.total:
            next_url = _list_url(form.values, form.limit, form.offset + form.limit)
    invalid = form.filters is None
    return page(request, "cases/list.html", status=422 if invalid else 200, form=form, result=result,
                errors={name: t(key, max=MAX_CASE_ID if name == "case_id" else MAX_PROCEDURE)
                        for name, key in form.errors.items()},
                statuses=[("", t("common.all"))] + [(s.value, t(f"cases.status.{s.value}")) for s in CaseStatus],
                timelinesses=[("", t("common.all"))] + [(v.value, t(f"cases.timeliness.{v.value}"))
                                                         for v in Timeliness],
                overdue_choices=[("", t("common.all")), ("true", t("cases.overdue.yes")),
                                 ("false", t("cases.overdue.no"))],
                previous_url=previous_url, next_url=next_url, reset_url="/console/cases")


# -- one case ------------------------------------------------------------------------------------------


class Marker:
    """What became of a step, as the slip says it and as the diagram marks it (CSS class ``case-<name>``)."""

    DONE = "done"  # completed early or on time (or a step outside the time limit, completed)
    LATE = "late"  # completed after its due
    ACTIVE = "active"  # waiting now, within its due (or with its clock stopped)
    OVERDUE = "overdue"  # waiting now, past its due
    SKIPPED = "skipped"  # bypassed, or left active when the case closed

    # When one element of the diagram ran more than once, the mark it gets: the most pressing.
    ORDER = (OVERDUE, ACTIVE, LATE, DONE, SKIPPED)


def marker_of(step: SlipStepPublic, overdue_now: bool) -> str:
    if step.status == StepStatus.ACTIVE:
        return Marker.OVERDUE if overdue_now else Marker.ACTIVE
    if step.status == StepStatus.COMPLETED:
        return Marker.LATE if step.timeliness == Timeliness.LATE else Marker.DONE
    return Marker.SKIPPED  # skipped, abandoned


@dataclass(frozen=True)
class SlipLine:
    """One row of the Form 05 table: a step's activation, who handed it over, who took it, what came of it."""

    number: int
    step: SlipStepPublic
    name: str
    marker: str
    overdue_now: bool
    handed_by: list[str]  # the units (and officers) that handed the case to this step
    accepted_by: str | None  # who accepted the handover (step.started), when told
    completed_by: str | None  # who handed it on (step.completed), when told
    handed_to: list[str]  # the units the case went to next
    counted: bool


def _actor(payload: Any) -> str | None:
    actor = payload.get("actor") if isinstance(payload, dict) else None
    if not isinstance(actor, dict):
        return None
    parts = [str(actor[k]) for k in ("officer", "unit") if isinstance(actor.get(k), str) and actor[k].strip()]
    return " — ".join(parts) or None


def _overdue_steps(session: Session, case_id: str, now: datetime) -> dict[int, bool]:
    """Each step row's "overdue now", by the reporting module's rule (``step_overdue``)."""
    columns = CaseStepRow.__table__.c  # type: ignore[attr-defined]
    rows = session.exec(select(columns.seq, step_overdue(columns, now))
                        .where(columns.case_id == case_id)).all()
    return {int(seq): bool(flag) for seq, flag in rows}


def _handover_events(session: Session, case_id: str) -> list[JournalEntry]:
    return list(session.exec(select(JournalEntry).where(
        JournalEntry.case_id == case_id, col(JournalEntry.type).in_((CASE_RECEIVED, STEP_STARTED, STEP_COMPLETED)))
        .order_by(col(JournalEntry.seq)).limit(HANDOVER_EVENTS)).all())


def slip_lines(slip: ControlSlipPublic, overdue: dict[int, bool], events: list[JournalEntry],
               procedure: LoadedProcedure | None, t: Translator) -> list[SlipLine]:
    """The slip's rows: ``slip.steps`` in order, with who handed over to whom as far as the events tell."""
    steps = procedure.definition.steps if procedure is not None else {}
    officers: dict[tuple[str, Any, datetime | None], str] = {}
    received_by = None
    for entry in events:
        payload = entry.payload if isinstance(entry.payload, dict) else {}
        who = _actor(payload)
        if entry.type == CASE_RECEIVED:
            received_by = received_by or who
        elif who is not None:
            officers.setdefault((entry.type, payload.get("step"), _utc(entry.occurred_at)), who)
    rows = slip.steps
    # The slip's rows come in ``seq`` order: the n-th row is the n-th seq (read in the same session).
    flags = [overdue[seq] for seq in sorted(overdue)] if len(overdue) == len(rows) else [False] * len(rows)
    lines = []
    for index, step in enumerate(rows):
        is_overdue = flags[index]
        activated = _utc(step.activated_at)
        before = [_unit(r) for r in rows if r.completed_at is not None and _utc(r.completed_at) == activated]
        if not before and activated == _utc(slip.received_at):
            before = [received_by or t("cases.slip.one_stop")]
        after = ([_unit(r) for r in rows if _utc(r.activated_at) == _utc(step.completed_at)]
                 if step.completed_at is not None else [])
        definition = steps.get(step.step)
        lines.append(SlipLine(
            number=index + 1, step=step, name=definition.name if definition is not None and definition.name
            else step.step, marker=marker_of(step, is_overdue), overdue_now=is_overdue,
            handed_by=list(dict.fromkeys(before)),
            accepted_by=officers.get((STEP_STARTED, step.step, _utc(step.started_at))),
            completed_by=officers.get((STEP_COMPLETED, step.step, _utc(step.completed_at))),
            handed_to=list(dict.fromkeys(after)), counted=definition.counted if definition is not None else True))
    return lines


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _unit(step: SlipStepPublic) -> str:
    return step.unit or step.step


def diagram_markers(lines: list[SlipLine]) -> dict[str, str]:
    """One marker per element of the diagram: of a step that ran more than once, the most pressing."""
    found: dict[str, str] = {}
    for line in lines:
        held = found.get(line.step.step)
        if held is None or Marker.ORDER.index(line.marker) < Marker.ORDER.index(held):
            found[line.step.step] = line.marker
    return found


def _procedure(eiso: App, slip: ControlSlipPublic) -> LoadedProcedure | None:
    try:
        return eiso.catalog.get(slip.procedure, slip.procedure_version, slip.procedure_scope)
    except NoResultFound:
        return None


def _not_found() -> HTTPException:
    return HTTPException(404)


def _control_slip(session: Session, eiso: App, user: Principal, case_id: str) -> ControlSlipPublic:
    """The API's control slip (``GET /cases/{id}``), its scope check included; the 404 page otherwise."""
    if not case_id or len(case_id) > MAX_CASE_ID:
        raise _not_found()
    try:
        return api.control_slip(case_id, user, session, get_presenter(eiso))
    except ApiError as err:
        if err.status == 404:
            raise _not_found() from None
        raise


def _apology(session: Session, eiso: App, user: Principal, case_id: str) -> ApologySlip | NoApologyDue:
    """The Form 04 slip as the API's ``GET /cases/{id}/apology`` makes it, or why none is due."""
    try:
        return apology_slip(SqlApologyReads(session), case_id, eiso.calendar, eiso.clock.now(),
                            visible=user.scope.covers)
    except CaseNotFound:
        raise _not_found() from None
    except NoApologyDue as err:
        return err


def _timeline(session: Session, eiso: App, user: Principal, case_id: str,
              after: int) -> tuple[list[TimelineEntryPublic], int | None]:
    """One page of the API's timeline (``GET /cases/{id}/events``) and the ``after`` of the next."""
    headers = Response()
    entries = api.timeline(case_id, user, eiso, session, headers, after=after, limit=TIMELINE_PAGE)
    cursor = headers.headers.get("X-Next-After")
    return entries, int(cursor) if cursor else None


def case_url(case_id: str, tail: str = "") -> str:
    return "/console/cases/" + quote(case_id, safe="/") + tail


@router.get("/cases/{case_id:path}/diagram.bpmn")
def case_diagram(case_id: str, request: Request, user: PageUser) -> Response:
    """The BPMN XML of the procedure version the case follows, after the case's scope check."""
    require(user, roles.READERS)
    eiso = _eiso(request)
    with Session(eiso.engine) as session:
        slip = _control_slip(session, eiso, user, case_id)
    procedure = _procedure(eiso, slip)
    if procedure is None:
        raise _not_found()
    return Response(content=procedure.source, media_type="application/xml",
                    headers={"Content-Disposition": 'attachment; filename="procedure.bpmn"',
                             "Cache-Control": "private, no-store"})


@router.get("/cases/{case_id:path}/apology", response_class=HTMLResponse)
def case_apology(case_id: str, request: Request, user: PageUser) -> Response:
    """Form 04 (Phiếu xin lỗi và hẹn lại ngày trả kết quả), or a 409 page saying why none is due."""
    require(user, roles.READERS)
    eiso = _eiso(request)
    if not case_id or len(case_id) > MAX_CASE_ID:
        raise _not_found()
    with Session(eiso.engine) as session:
        found = _apology(session, eiso, user, case_id)
    if isinstance(found, NoApologyDue):
        return page(request, "cases/no_apology.html", status=409, case_id=case_id, case_url=case_url(case_id),
                    reason=str(found))
    today = eiso.clock.now().astimezone(eiso.calendar.zone).date()
    return page(request, "cases/apology.html", slip=found, case_url=case_url(case_id), today=today,
                delay_hours=found.apology.delay_seconds, remaining=found.apology.remaining_seconds)


@router.get("/cases/{case_id:path}", response_class=HTMLResponse)
def case_page(case_id: str, request: Request, user: PageUser) -> Response:
    require(user, roles.READERS)
    eiso = _eiso(request)
    t: Translator = request.state.translator
    after = whole(request.query_params.get("after"), 0, 2**63 - 1, 0)
    if after is None:
        after = 0
    now = eiso.clock.now()
    with Session(eiso.engine) as session:
        slip = _control_slip(session, eiso, user, case_id)
        summary = api.case_summary(session, eiso, user, case_id)
        overdue = _overdue_steps(session, case_id, now)
        events = _handover_events(session, case_id)
        entries, next_after = _timeline(session, eiso, user, case_id, after)
        apology = _apology(session, eiso, user, case_id)
    procedure = _procedure(eiso, slip)
    lines = slip_lines(slip, overdue, events, procedure, t)
    url = case_url(case_id)
    return page(
        request, "cases/case.html", slip=slip, lines=lines, procedure_name=(procedure.definition.name
                                                                            if procedure is not None else None),
        markers=diagram_markers(lines), diagram_url=case_url(case_id, "/diagram.bpmn"), case_url=url,
        apology_url=case_url(case_id, "/apology") if not isinstance(apology, NoApologyDue) else None,
        apology=apology if not isinstance(apology, NoApologyDue) else None,
        entries=entries, first_url=url + "#timeline" if after else None,
        next_url=f"{url}?after={next_after}#timeline" if next_after is not None else None,
        summary=summary, now=now, marker_names=Marker.ORDER,
        step_names={k: v.name or k for k, v in procedure.definition.steps.items()} if procedure is not None else {})

