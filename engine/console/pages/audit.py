"""The audit log (``GET /console/audit``), for the API's audit readers, and the before/after of an
entry as a readable diff (also shown on a nonconformity's page).

The entries are the API's (``engine.api.routers.audit.audit_query``: the same filters and the same
scope rule: entries about an agency's records follow the user's agencies, entries with no agency,
procedures and users, are shown to every audit reader), newest first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col

from engine.api import roles
from engine.api.routers.audit import audit_query
from engine.bootstrap import App
from engine.console.auth import PageUser, require
from engine.console.filters import days_between, page_url, paging
from engine.console.i18n import Translator
from engine.console.render import page
from engine.reporting.labels import CAUSES
from engine.store.tables_api import AuditEntry

router = APIRouter()

PAGE_SIZE, MAX_PAGE = 50, 500
ENTITIES = ("nonconformity", "procedure", "user", "refused_event")
ACTIONS = ("nonconformity.correction", "nonconformity.cause", "nonconformity.action", "nonconformity.verification",
           "nonconformity.close", "procedure.deploy", "procedure.retire", "user.create", "user.disable",
           "refused_event.purge")
# The widths of the audit log's columns (engine.store.tables_api.AuditEntry): a longer filter matches nothing.
MOST = {"entity": 32, "entity_key": 400, "actor": 200, "action": 64}
FILTERS = ("entity", "entity_key", "actor", "action", "from", "to")
LONGEST_VALUE = 2000
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- the before/after of an entry -----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One field of an entry: its label and its values before and after, as text (None: absent)."""

    name: str
    label: str
    before: str | None
    after: str | None


def shown(value: Any, t: Translator) -> str | None:
    """A stored value as a person reads it: times in the calendar's zone, yes/no, JSON for the rest."""
    if value is None:
        return None
    if isinstance(value, bool):
        return t("common.yes") if value else t("common.no")
    if isinstance(value, str):
        try:
            if _INSTANT.match(value):
                instant = datetime.fromisoformat(value)
                return t.datetime(instant) if instant.tzinfo is not None else value
            if _DAY.match(value):
                return t.date(date.fromisoformat(value))
        except ValueError:
            pass
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        text = ", ".join(str(item) for item in value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= LONGEST_VALUE else text[:LONGEST_VALUE] + "…"


def field_label(name: str, t: Translator) -> str:
    key = f"nonconformities.field.{name}"
    return t(key) if t.has(key) else name


def _value(name: str, value: Any, t: Translator) -> str | None:
    """A field's value in words where the code has a name (a nonconformity's status, a cause category)."""
    if isinstance(value, str):
        if name == "status" and t.has(f"nonconformities.status.{value}"):
            return t(f"nonconformities.status.{value}")
        if name == "cause_category":
            return CAUSES[t.language].get(value, value)
    return shown(value, t)


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None, t: Translator) -> list[Change]:
    """The fields whose value differs between ``before`` and ``after``, in the order the entry wrote them."""
    before, after = before or {}, after or {}
    names = list(dict.fromkeys([*after, *before]))
    return [Change(name, field_label(name, t), _value(name, before.get(name), t), _value(name, after.get(name), t))
            for name in names if before.get(name) != after.get(name)]


@dataclass(frozen=True)
class Line:
    """An audit entry as the pages show it."""

    entry: AuditEntry
    action: str
    entity: str
    role: str
    url: str | None
    changes: list[Change]


def lines(entries: list[AuditEntry], t: Translator) -> list[Line]:
    def named(prefix: str, code: str) -> str:
        return t(f"{prefix}.{code}") if t.has(f"{prefix}.{code}") else code

    found = []
    for entry in entries:
        role = t(f"role.{entry.actor_role}") if t.has(f"role.{entry.actor_role}") else named("audit.role",
                                                                                            entry.actor_role)
        url = ("/console/nonconformities/" + quote(entry.entity_key, safe=":")
               if entry.entity == "nonconformity" else None)
        found.append(Line(entry, named("audit.action", entry.action), named("audit.entity", entry.entity), role,
                          url, diff(entry.before, entry.after, t)))
    return found


# -- the log -----------------------------------------------------------------------------------------------


@dataclass
class LogForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = PAGE_SIZE
    offset: int = 0



def read_filters(request: Request, eiso: App) -> LogForm:
    """The log's filters from the query string; each bad value is named beside its field."""
    params = request.query_params
    form = LogForm(values={name: params.get(name, "") for name in FILTERS})
    for name, most in MOST.items():
        value = form.values[name].strip()
        if len(value) > most or "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            form.errors[name] = "audit.bad_text"
    entity = form.values["entity"].strip()
    if entity and "entity" not in form.errors and not re.fullmatch(r"[a-z_]{1,32}", entity):
        form.errors["entity"] = "audit.bad_choice"
    # "to" is the last day shown, included: the query's end is the next day's start.
    form.since, form.until = days_between(form.values, "from", "to", eiso.calendar.zone, form.errors,
                                          "audit.bad_order")
    page = paging(params, PAGE_SIZE, MAX_PAGE)
    if page is None:
        form.problem = "audit.bad_paging"
    else:
        form.limit, form.offset = page
    return form


def _url(values: dict[str, str], limit: int, offset: int) -> str:
    query = {name: value.strip() for name, value in values.items() if value.strip()}
    return page_url("/console/audit", query, PAGE_SIZE, limit, offset)


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, user: PageUser) -> Response:
    require(user, roles.AUDIT_READERS)
    eiso: App = request.app.state.eiso
    t: Translator = request.state.translator
    form = read_filters(request, eiso)
    entries: list[AuditEntry] = []
    more = False
    if not form.errors and not form.problem:
        text = {name: (form.values[name].strip() or None) for name in MOST}
        query = audit_query(user, eiso, entity=text["entity"], entity_key=text["entity_key"], actor=text["actor"],
                            action=text["action"], at_from=form.since, at_to=form.until)
        with Session(eiso.engine) as session:
            # Newest first by the primary key; one row more than the page says whether another follows.
            found = list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(form.limit + 1)
                                      .offset(form.offset)).all())
        more = len(found) > form.limit
        entries = found[:form.limit]
    entity = form.values["entity"].strip()
    entities = [("", t("common.all")), *((code, t(f"audit.entity.{code}")) for code in ENTITIES)]
    if entity and entity not in ENTITIES and "entity" not in form.errors:
        entities.append((entity, entity))
    previous_url = (_url(form.values, form.limit, max(0, form.offset - form.limit)) if form.offset > 0 else None)
    next_url = _url(form.values, form.limit, form.offset + form.limit) if more else None
    status = 422 if form.errors or form.problem else 200
    return page(request, "audit/log.html", status=status, form=form, lines=lines(entries, t), entities=entities,
                actions=ACTIONS, previous_url=previous_url, next_url=next_url,
                page_number=form.offset // form.limit + 1)
