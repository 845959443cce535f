"""Migrating a procedure's running cases from the console (issue 13, item 1): the form on a version's page,
its preview (the dry run, with each step's old and new due) and the migration itself.

The work is the API's ``POST /procedures/{code}/migrations`` (``migrate_running_cases``): the same roles (admin
and process owners), the same agency scope (an agency-bound owner moves only their agencies' cases, of the
deployments they manage), the same summary. The page is a version's (``.../versions/{n}/migrate``, with its
``scope``), so that another agency's version is the 404 page as on the version page; the target version is a
field, this version by default. "Migrate" is accepted only for the fields the preview showed (``previewed``,
a digest of them): changed fields are previewed again, nothing written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from engine.api import roles
from engine.api.deps import Principal
from engine.api.errors import ApiError
from engine.api.models.migrations import MigrationRequestBody, MigrationSummaryPublic
from engine.api.models.procedures import ProcedureVersionPublic
from engine.api.routers.procedures import Code, Version, get_version, migrate_running_cases
from engine.bootstrap import App
from engine.console.auth import PageUser, check_csrf, require
from engine.console.i18n import Translator
from engine.console.pages.procedures import _as_page, _scope_key, version_url
from engine.console.render import page
from engine.core.agency import MAX_SCOPE_AGENCIES, scope_agencies
from engine.core.migration import StepMapInvalid, parse_step_map

router = APIRouter()

FIELDS = ("to", "from", "agencies", "map")
MAX_FIELD = 20_000  # the longest text read from a field (a step map of a few hundred lines)
ACTIONS = ("preview", "migrate")


def migration_url(code: str, version: int, scope: str) -> str:
    """The migration form of a version's page (``scope`` as ``version_url`` takes it)."""
    base, _, query = version_url(code, version, scope).partition("?")
    return base + "/migrate" + ("?" + query if query else "")


@dataclass
class MigrationForm:
    """The fields as written (shown back), each field's problem (in the page's words), and the body."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    body: MigrationRequestBody | None = None

    @property
    def digest(self) -> str:
        """What the preview showed, so that "Migrate" moves exactly that."""
        if self.body is None:
            return ""
        shown = self.body.model_dump(by_alias=True, exclude={"dry_run"})
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:32]


def _whole(text: str, minimum: int = 1) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) < minimum:
        return None
    return int(text)


def read_form(values: dict[str, str], t: Translator) -> MigrationForm:
    """The form's fields into the API's request body, or each field's problem."""
    form = MigrationForm(values)
    errors = form.errors
    to = _whole(values["to"].strip())
    if not values["to"].strip():
        errors["to"] = t("common.required")
    elif to is None:
        errors["to"] = t("migration.bad_version")
    start = values["from"].strip()
    from_version = _whole(start) if start else None
    if start and from_version is None:
        errors["from"] = t("migration.bad_version")
    agencies = [code for code in values["agencies"].replace(",", " ").split() if code]
    if len(agencies) > MAX_SCOPE_AGENCIES:
        errors["agencies"] = t("migration.too_many_agencies", most=MAX_SCOPE_AGENCIES)
    step_map: dict[str, str] = {}
    if values["map"].strip():
        try:
            step_map = parse_step_map(values["map"], t("migration.map"))
        except StepMapInvalid as err:
            errors["map"] = t("migration.bad_map", detail=str(err))
    if errors:
        return form
    try:
        form.body = MigrationRequestBody.model_validate(
            {"to": to, "from": from_version, "agencies": agencies, "map": step_map, "dry_run": True})
    except ValidationError as err:
        for problem in err.errors():
            name = {"from_": "from"}.get(str(problem["loc"][0]), str(problem["loc"][0])) if problem.get("loc") \
                else "map"
            if name == "agencies":
                errors.setdefault(name, t("migration.bad_agency"))
            elif name in ("to", "from"):
                errors.setdefault(name, t("migration.bad_version"))
            else:
                errors.setdefault("map", t("migration.bad_map_entry"))
    return form


@dataclass(frozen=True)
class ShownStep:
    step: str
    new_step: str
    due_before: str
    due_after: str
    changed: bool  # the due moves (the allowance changed)


@dataclass(frozen=True)
class ShownCase:
    case_id: str
    agency: str
    from_version: int
    to_version: int
    moved: bool
    reason_label: str | None
    reason: str | None
    steps: list[ShownStep]

    @property
    def url(self) -> str:
        return "/console/cases/" + quote(self.case_id, safe="")


def shown_cases(request: Request, summary: MigrationSummaryPublic) -> list[ShownCase]:
    """The summary's cases in the page's words: dues ``dd/mm/yyyy HH:MM`` in the calendar's zone, a paused
    step's due as "paused", a reason code as its label (the application's sentence kept beside it)."""
    t = request.state.translator
    cases = []
    for case in summary.cases:
        label = None
        if case.reason_code is not None:
            key = f"migration.reason.{case.reason_code}"
            label = t(key) if t.has(key) else case.reason_code
        steps = [ShownStep(s.step, s.new_step,
                           t.datetime(s.due_before) if s.due_before else t("migration.paused"),
                           t.datetime(s.due_after) if s.due_after else t("migration.paused"),
                           s.due_before != s.due_after) for s in case.steps]
        cases.append(ShownCase(case.case_id, case.agency, case.from_version, case.to_version, case.result == "moved",
                               label, case.reason, steps))
    return cases


def _facts(eiso: App, user: Principal, code: str, version: int, key: str) -> ProcedureVersionPublic:
    """The version as its page shows it: the 404 page for a version that does not concern the user."""
    with Session(eiso.engine) as session, _as_page():
        return get_version(code, version, user, eiso, session, agency=list(scope_agencies(key)) or None)


def _render(request: Request, facts: ProcedureVersionPublic, key: str, form: MigrationForm, status: int = 200,
            **context: Any) -> Response:
    user: Principal = request.state.user
    return page(request, "procedures/migration.html", status=status, facts=facts, key=key, form=form,
                errors=form.errors, values=form.values,
                action_url=migration_url(facts.code, facts.version, key),
                version_url=version_url(facts.code, facts.version, key),
                my_agencies=list(user.scope.codes) if not user.scope.everything else [],
                **{"summary": None, "cases": [], "previewed": "", "notice": None, **context})


@router.get("/procedures/{code}/versions/{version}/migrate", include_in_schema=False)
def migration_page(request: Request, user: PageUser, code: Code, version: Version,
                   scope: str | None = None) -> Response:
    require(user, roles.PROCEDURE_WRITERS)
    eiso: App = request.app.state.eiso
    key = _scope_key(request, scope)
    facts = _facts(eiso, user, code, version, key)
    values = {"to": str(version), "from": "", "agencies": "", "map": ""}
    return _render(request, facts, key, MigrationForm(values))


def _run(request: Request, user: Principal, code: str, version: int, scope: str | None, form_data: FormData
         ) -> Response:
    require(user, roles.PROCEDURE_WRITERS)
    eiso: App = request.app.state.eiso
    key = _scope_key(request, scope)
    facts = _facts(eiso, user, code, version, key)
    values = {name: (value if isinstance(value := form_data.get(name), str) else "")[:MAX_FIELD] for name in FIELDS}
    action = form_data.get("action")
    t: Translator = request.state.translator
    form = read_form(values, t)
    if action not in ACTIONS:
        return _render(request, facts, key, form, 422, notice="migration.bad_action")
    if form.body is None:
        return _render(request, facts, key, form, 422)
    body = form.body
    notice = None
    if action == "migrate" and form_data.get("previewed") != form.digest:
        notice = "migration.changed_since_preview"  # preview what the fields say now; nothing written
    elif action == "migrate":
        body = body.model_copy(update={"dry_run": False})
    try:
        summary = migrate_running_cases(code, body, request, user, eiso)
    except ApiError as err:
        _place(form, err, body, t)
        return _render(request, facts, key, form, 422)
    return _render(request, facts, key, form, summary=summary, cases=shown_cases(request, summary),
                   previewed=form.digest if summary.dry_run else "", notice=notice)


def _place(form: MigrationForm, err: ApiError, body: MigrationRequestBody, t: Translator) -> None:
    """The API's refusal beside the field it is about, its sentence (naming the version, agency or step)
    after the page's words."""
    if err.status == 403:
        form.errors["agencies"] = t("migration.agency_outside", detail=err.detail)
    elif err.status == 422:
        form.errors["map"] = t("migration.bad_map", detail=err.detail)
    elif err.status == 404 and body.from_ is not None and err.detail.endswith(f"no version {body.from_}"):
        form.errors["from"] = t("migration.no_version", detail=err.detail)
    elif err.status == 409:
        form.errors["to"] = t("migration.retired", detail=err.detail)
    else:
        form.errors["to"] = t("migration.no_version", detail=err.detail)


@router.post("/procedures/{code}/versions/{version}/migrate", include_in_schema=False)
async def migration_post(request: Request, user: PageUser, code: Code, version: Version,
                         scope: str | None = None) -> Response:
    form_data = await request.form(max_files=0, max_fields=len(FIELDS) + 4)
    check_csrf(request, form_data.get("csrf"))
    return await run_in_threadpool(_run, request, user, code, version, scope, form_data)

