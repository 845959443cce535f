"""The nonconformities pages: the worklist (``GET /console/nonconformities``) and one record
(``GET``/``POST /console/nonconformities/{key}``) with its facts, its evidence, its corrective-action
cycle (ISO 9001 clause 10.2) as forms, and its audit trail.

Everything comes from the API's own functions: the list is ``engine.api.routers.nonconformities.
list_query``, a record is ``get_nonconformity`` (404 outside the user's agencies), a step is ``perform``
(``engine.application.corrective.transition``: the compare-and-set on the version the form was
rendered at, the audit entry and the outbox row in one transaction), the evidence is the case's
timeline (``engine.api.routers.cases.timeline``) and the trail is ``engine.api.routers.audit.audit_query``.
The cycle's order is ``engine.core.corrective``; who may record a step is the API's ``COMMAND_ROLES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from engine.api import roles
from engine.api.deps import Principal
from engine.api.errors import ApiError
from engine.api.models.cases import TimelineEntryPublic
from engine.api.models.nonconformities import CauseCategory, NonconformityPublic
from engine.api.routers import cases as cases_api
from engine.api.routers import nonconformities as api
from engine.api.routers.audit import audit_query
from engine.api.scope import check_code
from engine.application.corrective import (
    ActionDueInPast,
    ChangedMeanwhile,
    NonconformityNotFound,
    StaleVersion,
    TransitionRefused,
)
from engine.bootstrap import App
from engine.console.auth import PageUser, check_csrf, may, require
from engine.console.filters import days_between, page_url, paging, whole
from engine.console.i18n import Translator, parse_date
from engine.console.pages.audit import Line, lines
from engine.console.render import page
from engine.core.corrective import STATUSES, Command, allowed
from engine.core.nonconformities import NONCONFORMITY_TYPES
from engine.reporting.formats import Language
from engine.reporting.labels import CAUSES, LABELS
from engine.store.corrective import ENTITY
from engine.store.tables import JournalEntry
from engine.store.tables_api import AuditEntry

router = APIRouter()

PAGE_SIZE, MAX_PAGE = 50, 500
MAX_DAYS = 36_500
MAX_KEY, MAX_PROCEDURE = 400, 64
FILTERS = ("agency", "type", "status", "procedure", "older_than", "raised_from", "raised_to")
PENDING = "pending"
# The statuses the cycle can still move on from (engine.core.corrective): neither closed nor retracted.
PENDING_STATUSES = tuple(status.value for status in STATUSES if allowed(status))
FORM_FIELDS = ("correction", "cause", "category", "action", "owner", "due", "verification", "effective", "note")
ECHO_MAX = 10_000  # a refused text is shown back in its field up to this length
EVIDENCE_MAX, TRAIL_MAX = 100, 200
_AT_MOST = re.compile(r"at most (\d+)")


def record_url(key: str) -> str:
    return "/console/nonconformities/" + quote(key, safe=":/")


def case_url(case_id: str) -> str:
    return "/console/cases/" + quote(case_id, safe="/")


def _eiso(request: Request) -> App:
    eiso: App = request.app.state.eiso
    return eiso


def _type_label(t: Translator, code: str) -> str:
    value: str = LABELS[Language(t.language)].value("type", code)
    return value


def _status_label(t: Translator, status: str) -> str:
    key = f"nonconformities.status.{status}"
    return t(key) if t.has(key) else status


def _age(now: datetime, raised: datetime) -> int:
    return max(0, (now - raised).days)


def _bad_text(value: str) -> bool:
    return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)


# -- the worklist --------------------------------------------------------------------------------------


@dataclass
class ListForm:
    """The worklist's query as typed (``values``), its problems by field (message keys), and the filters."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    statuses: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = PAGE_SIZE
    offset: int = 0



def read_filters(request: Request, eiso: App) -> ListForm:
    """The worklist's filters from the query: each bad value named beside its field, never a 500."""
    params = request.query_params
    values = {name: params.get(name, "") for name in FILTERS}
    if "status" not in params:
        values["status"] = PENDING  # the worklist: what still needs work
    form = ListForm(values=values)
    errors = form.errors
    text = {name: value.strip() for name, value in values.items()}
    for name, most in (("agency", 100), ("procedure", MAX_PROCEDURE), ("type", 40), ("status", 32)):
        if len(text[name]) > most or _bad_text(text[name]):
            errors[name] = "nonconformities.bad_text"
    if text["agency"] and "agency" not in errors:
        try:
            check_code(text["agency"])
        except ValueError:
            errors["agency"] = "nonconformities.bad_agency"
    if text["type"] and text["type"] not in NONCONFORMITY_TYPES:
        errors.setdefault("type", "nonconformities.bad_choice")
    status = text["status"]
    if status == PENDING:
        form.statuses = PENDING_STATUSES
    elif status:
        if status not in {s.value for s in STATUSES}:
            errors.setdefault("status", "nonconformities.bad_choice")
        form.statuses = (status,)
    # "to" is the last day, included: the query's end is the next day's start.
    form.since, form.until = days_between(dict(values), "raised_from", "raised_to", eiso.calendar.zone, errors,
                                          "nonconformities.bad_order")
    older_than = whole(values["older_than"], 0, MAX_DAYS, None)
    if older_than is None and text["older_than"]:
        errors["older_than"] = "nonconformities.bad_number"
    elif older_than is not None:
        # Raised more than N days ago: before now minus N days, whatever the other bound says.
        cutoff = eiso.clock.now() - timedelta(days=older_than)
        form.until = cutoff if form.until is None else min(form.until, cutoff)
    page = paging(params, PAGE_SIZE, MAX_PAGE)
    if page is None:
        form.problem = "nonconformities.bad_paging"
    else:
        form.limit, form.offset = page
    return form


def _list_url(values: dict[str, str], limit: int, offset: int) -> str:
    query = {name: value.strip() for name, value in values.items() if value.strip() or name == "status"}
    if query.get("status") == PENDING:
        del query["status"]
    return page_url("/console/nonconformities", query, PAGE_SIZE, limit, offset)


@dataclass(frozen=True)
class Item:
    """A row of the worklist."""

    key: str
    url: str
    case_id: str
    case_url: str
    agency: str
    type: str
    type_label: str
    step: str | None
    raised: datetime
    age: int | None
    status: str
    status_label: str
    owner: str | None
    due: date | None


@router.get("/nonconformities", response_class=HTMLResponse)
def worklist(request: Request, user: PageUser) -> Response:
    require(user, roles.READERS)
    eiso = _eiso(request)
    t: Translator = request.state.translator
    form = read_filters(request, eiso)
    items: list[Item] = []
    more = False
    if not form.errors and not form.problem:
        text = {name: (form.values[name].strip() or None) for name in ("agency", "type", "procedure")}
        query = api.list_query(user, eiso, agency=text["agency"], type=text["type"], procedure=text["procedure"],
                               statuses=form.statuses, detected_from=form.since, detected_to=form.until)
        now = eiso.clock.now()
        with Session(eiso.engine) as session:
            # One row more than the page says whether another page follows (no count over the whole table).
            found = session.exec(query.limit(form.limit + 1).offset(form.offset)).all()
            more = len(found) > form.limit
            for row, action, _ in found[:form.limit]:
                items.append(Item(
                    key=row.key, url=record_url(row.key), case_id=row.case_id, case_url=case_url(row.case_id),
                    agency=row.agency, type=row.type, type_label=_type_label(t, row.type), step=row.step,
                    raised=eiso.calendar.local(row.detected_at),
                    age=_age(now, row.detected_at) if allowed(row.status) else None, status=row.status,
                    status_label=_status_label(t, row.status), owner=action.action_owner if action else None,
                    due=action.action_due if action else None))
    types = [("", t("common.all")), *((code, _type_label(t, code)) for code in NONCONFORMITY_TYPES)]
    statuses = [(PENDING, t("nonconformities.filter.pending")), ("", t("nonconformities.filter.any")),
                *((s.value, _status_label(t, s.value)) for s in STATUSES)]
    previous_url = _list_url(form.values, form.limit, max(0, form.offset - form.limit)) if form.offset else None
    next_url = _list_url(form.values, form.limit, form.offset + form.limit) if more else None
    status = 422 if form.errors or form.problem else 200
    return page(request, "nonconformities/list.html", status=status, form=form, items=items, types=types,
                statuses=statuses, previous_url=previous_url, next_url=next_url,
                page_number=form.offset // form.limit + 1)


# -- one record ----------------------------------------------------------------------------------------------


@dataclass
class StepForm:
    """A form of the page: one step the cycle allows now and the user's role may record."""

    command: Command
    key: str  # data-keep key
    help: str | None = None


@dataclass
class Outcome:
    """What a POST left to show: the fields as typed, their errors, and a refusal."""

    values: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FORM_FIELDS, ""))
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    stale: bool = False
    command: Command | None = None


def _not_found() -> HTTPException:
    return HTTPException(404)


def _record(session: Session, eiso: App, user: Principal, key: str) -> NonconformityPublic:
    """The record as the API's ``GET /nonconformities/{key}`` shows it (404 outside the user's agencies)."""
    if len(key) > MAX_KEY or _bad_text(key):
        raise _not_found()
    try:
        return api.get_nonconformity(key, user, eiso, session, Response())
    except ApiError as err:
        raise HTTPException(404 if err.status == 405 else err.status) from None


def _evidence(session: Session, eiso: App, user: Principal,
              record: NonconformityPublic) -> tuple[list[TimelineEntryPublic], list[str]]:
    """The case's events that raised the record, from the case's timeline (the API's), and the ids not in it."""
    wanted = list(dict.fromkeys(record.event_ids))[:EVIDENCE_MAX]
    if not wanted:
        return [], []
    # The timeline is read from the first of them on, by the (case_id, seq) index.
    first = session.exec(select(func.min(JournalEntry.seq)).where(
        JournalEntry.case_id == record.case_id, col(JournalEntry.event_id).in_(wanted))).one()
    found: list[TimelineEntryPublic] = []
    if first is not None:
        try:
            entries = cases_api.timeline(record.case_id, user, eiso, session, Response(), after=int(first) - 1,
                                         limit=cases_api.TIMELINE_MAX)
        except ApiError:
            entries = []
        found = [entry for entry in entries if entry.event_id in wanted]
    seen = {entry.event_id for entry in found}
    return found, [event_id for event_id in wanted if event_id not in seen]


def _trail(session: Session, eiso: App, user: Principal, key: str, t: Translator) -> list[Line] | None:
    """The record's audit entries, oldest first (the API's ``GET /audit?entity=nonconformity&entity_key=``);
    None for a role that may not read the audit log."""
    if not may(user, roles.AUDIT_READERS):
        return None
    query = audit_query(user, eiso, entity=ENTITY, entity_key=key)
    entries = list(session.exec(query.order_by(col(AuditEntry.id)).limit(TRAIL_MAX)).all())
    return lines(entries, t)


def _roles_text(t: Translator, allowed_roles: frozenset[roles.Role]) -> str:
    return ", ".join(t(f"role.{role.value}") for role in sorted(allowed_roles, key=lambda r: r.value))


def _detail(request: Request, user: Principal, key: str, outcome: Outcome | None = None, status: int = 200,
            saved: Command | None = None) -> Response:
    eiso = _eiso(request)
    t: Translator = request.state.translator
    outcome = outcome or Outcome()
    with Session(eiso.engine) as session:
        record = _record(session, eiso, user, key)
        evidence, missing = _evidence(session, eiso, user, record)
        trail = _trail(session, eiso, user, key, t)
    forms: list[StepForm] = []
    not_yours: list[str] = []
    for command in record.next:
        if may(user, api.COMMAND_ROLES[command]):
            forms.append(StepForm(command, f"nc-{command.value}",
                                  t(f"nonconformities.help.{command.value}")
                                  if t.has(f"nonconformities.help.{command.value}") else None))
        else:
            not_yours.append(t("nonconformities.next.not_yours", step=t(f"nonconformities.step.{command.value}"),
                               roles=_roles_text(t, api.COMMAND_ROLES[command])))
    language = Language(t.language)
    causes = [("", t("nonconformities.field.choose")),
              *((category.value, CAUSES[language.value][category.value]) for category in CauseCategory)]
    action = record.corrective_action
    return page(request, "nonconformities/record.html", status=status, record=record, action=action,
                url=record_url(record.key), case_link=case_url(record.case_id),
                type_label=_type_label(t, record.type), status_label=_status_label(t, record.status),
                cause_label=CAUSES[language.value].get(action.cause_category.value, action.cause_category.value)
                if action is not None and action.cause_category is not None else None,
                age=_age(eiso.clock.now(), record.detected_at), forms=forms, not_yours=not_yours, causes=causes,
                evidence=evidence, missing=missing, trail=trail,
                trail_roles=_roles_text(t, roles.AUDIT_READERS), outcome=outcome, saved=saved)


@router.get("/nonconformities/{key:path}", response_class=HTMLResponse)
def record_page(request: Request, key: str, user: PageUser, saved: str | None = None) -> Response:
    require(user, roles.READERS)
    done = Command(saved) if saved in Command.__members__ else None
    return _detail(request, user, key, saved=done)


def _message(error: Any, t: Translator) -> str:
    """A pydantic error of the API's request model, in the page's words."""
    kind, text = str(error.get("type", "")), str(error.get("msg", ""))
    if kind in ("missing", "string_too_short"):
        return t("common.required")
    if kind in ("enum", "bool_parsing", "bool_type"):
        return t("nonconformities.bad_choice")
    most = _AT_MOST.search(text)
    if most:
        return t("nonconformities.too_long", most=most.group(1))
    return t("nonconformities.bad_text")


def _body(command: Command, values: dict[str, str], t: Translator) -> tuple[api.CommandBody | None, dict[str, str]]:
    """The API's request body for ``command`` from the form's fields, or the fields' errors (translated)."""
    errors: dict[str, str] = {}
    data: dict[str, Any]
    if command is Command.correction:
        data = {"correction": values["correction"]}
    elif command is Command.cause:
        data = {"cause": values["cause"], **({"category": values["category"]} if values["category"] else {})}
    elif command is Command.action:
        data = {"action": values["action"], "owner": values["owner"], "due": date(2000, 1, 1)}
        try:
            due = parse_date(values["due"])
        except ValueError:
            errors["due"] = t("common.bad_date")
        else:
            if due is None:
                errors["due"] = t("common.required")
            else:
                data["due"] = due
    elif command is Command.verification:
        effective = values["effective"].strip()
        data = {"verification": values["verification"], "effective": effective != "no"}
        if not effective:
            errors["effective"] = t("common.required")
        elif effective not in ("yes", "no"):
            errors["effective"] = t("nonconformities.bad_choice")
    else:
        data = {"note": values["note"] if values["note"].strip() else None}
    try:
        body = api.BODIES[command].model_validate(data)
    except ValidationError as err:
        for problem in err.errors():
            name = str(problem["loc"][0]) if problem.get("loc") else command.value
            errors.setdefault(name, _message(problem, t))
        return None, errors
    return (None, errors) if errors else (body, errors)


def _form_values(form: FormData) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in FORM_FIELDS:
        value = form.get(name)
        values[name] = value if isinstance(value, str) else ""
    return values


def _act(request: Request, user: Principal, key: str, form: FormData) -> Response:
    require(user, roles.READERS)
    eiso = _eiso(request)
    t: Translator = request.state.translator
    with Session(eiso.engine) as session:
        record = _record(session, eiso, user, key)  # 404 before anything else is said about it
    values = _form_values(form)
    outcome = Outcome(values={name: value[:ECHO_MAX] for name, value in values.items()})
    step = form.get("step")
    if not isinstance(step, str) or step not in Command.__members__:
        outcome.problem = t("nonconformities.bad_step")
        return _detail(request, user, key, outcome, status=422)
    command = Command(step)
    outcome.command = command
    require(user, api.COMMAND_ROLES[command])
    body, errors = _body(command, values, t)
    if body is None:
        outcome.errors = errors
        return _detail(request, user, key, outcome, status=422)
    version = form.get("version")
    expected = int(version) if isinstance(version, str) and version.isascii() and version.isdigit() \
        and len(version) <= 18 else -1  # a missing or forged version never matches: stale
    try:
        with Session(eiso.engine) as session:
            api.perform(session, eiso, user, record.key, body, expected)
    except ActionDueInPast:
        today = eiso.calendar.local(eiso.clock.now()).date()
        outcome.errors = {"due": t("nonconformities.due_past", today=t.date(today))}
        return _detail(request, user, key, outcome, status=422)
    except NonconformityNotFound:
        raise _not_found() from None
    except (StaleVersion, ChangedMeanwhile):
        outcome.stale = True
        outcome.problem = t("nonconformities.stale")
        return _detail(request, user, key, outcome, status=409)
    except TransitionRefused:
        with Session(eiso.engine) as session:
            now = _record(session, eiso, user, key)
        message = t("nonconformities.refused", step=t(f"nonconformities.step.{command.value}"),
                    status=_status_label(t, now.status))
        if now.next:
            message += " " + t("nonconformities.refused_next",
                               steps=", ".join(t(f"nonconformities.step.{c.value}") for c in now.next))
        outcome.problem = message
        return _detail(request, user, key, outcome, status=409)
    return RedirectResponse(f"{record_url(record.key)}?{urlencode({'saved': command.value})}", status_code=303)


@router.post("/nonconformities/{key:path}", response_class=HTMLResponse)
async def record_step(request: Request, key: str, user: PageUser) -> Response:
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    return await run_in_threadpool(_act, request, user, key, form)
