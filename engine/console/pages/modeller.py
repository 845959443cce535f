"""The modeller: a procedure version (or a blank template) in the bpmn-js Modeler, with an "ISO step"
panel for the properties eiso reads, validation by the server's own validator, and deployment as a
new version through the API's own code path (scope rules, writer lock, audit entry).

The page itself is rendered here; the drawing happens in ``static/modeller.js``, which calls the
JSON endpoints below with the session's CSRF token in the ``X-CSRF-Token`` header:

- ``POST /console/modeller/validate`` ``{"xml"}`` -> ``{"valid", "problems": [...]}`` (``validate_source``);
- ``POST /console/modeller/condition`` ``{"condition"}`` -> ``{"valid", "message"}`` (the engine's
  condition language, ``compile_condition``: checked, never evaluated);
- ``POST /console/modeller/duration`` ``{"duration"}`` -> ``{"valid", "message"}`` (``parse_working_duration``);
- ``POST /console/modeller/deploy`` ``{"xml", "agencies", "filename"}`` -> the new version, or its problems.

Every answer of these endpoints is JSON, a refusal included (no HTML error page for a script to parse).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.api import roles
from engine.api.deps import Principal
from engine.api.errors import ApiError
from engine.api.routers.procedures import (
    concerning_version,
    deploy_source,
    may_manage,
    problem_public,
    requested_scope,
)
from engine.api.settings import ApiSettings
from engine.bootstrap import App
from engine.console.auth import CsrfRefused, Forbidden, PageUser, check_csrf, require, signin_url
from engine.console.i18n import Translator
from engine.console.render import page
from engine.core.agency import EVERY_AGENCY, scope_agencies
from engine.core.durations import DurationError, parse_working_duration
from engine.core.expressions import MAX_CONDITION_LENGTH, ExpressionError, compile_condition
from engine.procedures.loader import validate_source
from engine.store.catalog import clean_filename

router = APIRouter()

BASE = "/console/modeller"
CSRF_HEADER = "X-CSRF-Token"
MAX_SCOPE_TEXT = 2000  # the agencies field: 20 codes of up to 100 characters
MAX_SMALL_BODY = 64 * 1024  # a condition or a duration, in JSON
_SEPARATORS = re.compile(r"[\s,;]+")

# Messages the page's script shows; passed to it in the page's JSON block.
SCRIPT_MESSAGES = (
    "modeller.panel.process", "modeller.panel.task", "modeller.panel.flow", "modeller.panel.other",
    "modeller.panel.gateway", "modeller.panel.flow_plain", "modeller.check.ok", "modeller.check.working_hours",
    "modeller.check.empty", "modeller.check.deadline_needed", "modeller.problems.none", "modeller.problems.count",
    "modeller.problems.error", "modeller.problems.warning", "modeller.problems.file", "modeller.problems.show",
    "modeller.deploy.working", "modeller.deploy.created", "modeller.deploy.parked", "modeller.deploy.unchanged",
    "modeller.deploy.open", "modeller.working", "modeller.session_expired", "modeller.signin", "modeller.failed",
    "modeller.network", "modeller.import_failed", "modeller.import_warnings", "modeller.scope_every",
    "modeller.too_large_plain",
)

# A valid minimal eiso procedure: start event, one step, end event, with the properties the contract
# requires, in the form of the bundled procedures (bpmn/*.bpmn). Names are filled in the page's language.
BLANK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0" \
id="definitions_procedure" targetNamespace="https://eiso.example/bpmn/procedures" exporter="eiso" \
exporterVersion="0.1.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.21.0">
  <bpmn:process id="procedure" name={process} isExecutable="true">
    <bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="procedureCode" value="0.000000"/>
        <camunda:property name="statutoryLimit" value="P1D"/>
      </camunda:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="dossier_received" name={start}>
      <bpmn:outgoing>flow_received_to_handle</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="handle_dossier" name={task}>
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="deadline" value="P1D"/>
        </camunda:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_received_to_handle</bpmn:incoming>
      <bpmn:outgoing>flow_handle_to_returned</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="result_returned" name={end}>
      <bpmn:incoming>flow_handle_to_returned</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_received_to_handle" sourceRef="dossier_received" targetRef="handle_dossier"/>
    <bpmn:sequenceFlow id="flow_handle_to_returned" sourceRef="handle_dossier" targetRef="result_returned"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_procedure">
    <bpmndi:BPMNPlane id="plane_procedure" bpmnElement="procedure">
      <bpmndi:BPMNShape id="dossier_received_di" bpmnElement="dossier_received">
        <dc:Bounds x="182" y="142" width="36" height="36"/>
        <bpmndi:BPMNLabel><dc:Bounds x="160" y="185" width="80" height="27"/></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="handle_dossier_di" bpmnElement="handle_dossier">
        <dc:Bounds x="280" y="120" width="100" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="result_returned_di" bpmnElement="result_returned">
        <dc:Bounds x="442" y="142" width="36" height="36"/>
        <bpmndi:BPMNLabel><dc:Bounds x="420" y="185" width="80" height="27"/></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_received_to_handle_di" bpmnElement="flow_received_to_handle">
        <di:waypoint x="218" y="160"/>
        <di:waypoint x="280" y="160"/>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="flow_handle_to_returned_di" bpmnElement="flow_handle_to_returned">
        <di:waypoint x="380" y="160"/>
        <di:waypoint x="442" y="160"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def blank_procedure(t: Translator) -> str:
    """The blank template, its names in ``t``'s language."""
    return BLANK.format(process=quoteattr(t("modeller.blank.process")), start=quoteattr(t("modeller.blank.start")),
                        task=quoteattr(t("modeller.blank.task")), end=quoteattr(t("modeller.blank.end")))


def _scope_text(t: Translator, scope: str) -> str:
    return t("modeller.scope_every") if scope == EVERY_AGENCY else ", ".join(scope_agencies(scope))


def _scope_key(eiso: App, text: str | None) -> str:
    """The scope key of the agencies in ``text`` (codes separated by commas or spaces; empty or ``*``: every
    agency), by the API's own rule (``requested_scope``: ``ApiError`` 422 for a bad code or too many)."""
    codes = [code for code in _SEPARATORS.split((text or "").strip()) if code and code != EVERY_AGENCY]
    return requested_scope(eiso, codes)


def _page_error(err: ApiError) -> Exception:
    """An error of the API's functions as the console's error page."""
    if err.status == 403:
        return Forbidden()
    return StarletteHTTPException(err.status if err.status in (404, 422) else 500)


@router.get("/modeller", include_in_schema=False)
def modeller(request: Request, user: PageUser,
             code: Annotated[str | None, Query(max_length=64)] = None,
             version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
             scope: Annotated[str | None, Query(max_length=MAX_SCOPE_TEXT)] = None) -> Response:
    """The modeller on version ``version`` of ``code`` for ``scope`` (``*`` or empty: every agency), or on the
    blank template when no version is named."""
    require(user, roles.PROCEDURE_WRITERS)
    eiso: App = request.app.state.eiso
    t: Translator = request.state.translator
    if (code is None) != (version is None):
        raise StarletteHTTPException(422)
    opened: dict[str, Any] | None = None
    if code is not None and version is not None:
        try:
            key = _scope_key(eiso, scope)
            with Session(eiso.engine) as session:
                row = concerning_version(session, code, version, key, user)
        except ApiError as err:
            raise _page_error(err) from None
        xml = row.source.decode("utf-8", "replace")
        opened = {"code": row.code, "version": row.version, "scope": row.scope, "name": row.name,
                  "filename": clean_filename(row.filename), "scope_text": _scope_text(t, row.scope)}
        default_agencies = "" if row.scope == EVERY_AGENCY else ", ".join(scope_agencies(row.scope))
    else:
        xml = blank_procedure(t)
        default_agencies = ""
    if not default_agencies and not user.scope.everything:
        default_agencies = ", ".join(user.scope.codes)
    settings: ApiSettings = request.app.state.api_settings
    data = {
        "xml": xml,
        "opened": opened,
        "urls": {"page": BASE, "validate": f"{BASE}/validate", "deploy": f"{BASE}/deploy",
                 "condition": f"{BASE}/condition", "duration": f"{BASE}/duration",
                 "signin": signin_url(request.url.path + (f"?{request.url.query}" if request.url.query else ""))},
        "max_bytes": settings.max_bpmn_bytes,
        "messages": {key: t(key) for key in SCRIPT_MESSAGES},
    }
    codes = ", ".join(user.scope.codes)
    agencies_hint = (t("modeller.deploy.agencies_hint_admin") if user.role is roles.Role.admin
                     else t("modeller.deploy.agencies_hint", codes=codes))
    return page(request, "modeller/modeller.html", data=data, opened=opened, default_agencies=default_agencies,
                agencies_hint=agencies_hint)


# -- the JSON endpoints ------------------------------------------------------------------------------------------


class Refused(Exception):
    """A JSON endpoint's refusal: ``status`` and the answer's body."""

    def __init__(self, status: int, body: dict[str, Any]):
        self.status = status
        self.body = body


def _answer(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused past ``limit`` bytes while it streams in (never held whole beyond it)."""
    t: Translator = request.state.translator
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise Refused(413, {"message": t("modeller.too_large", limit=t.number(limit))})
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, {"message": t("modeller.too_large", limit=t.number(limit))})
            chunks.append(chunk)
    except StarletteHTTPException as err:  # the API's body guard, in front of the console, stopped it
        if err.status_code != 413:
            raise
        raise Refused(413, {"message": t("modeller.too_large", limit=t.number(limit))}) from None
    return b"".join(chunks)


async def _json_call(request: Request, limit: int) -> tuple[Principal, dict[str, Any]]:
    """The signed-in writer and the JSON object they sent, CSRF-checked; else ``Refused`` (401, 403, 413, 422)."""
    t: Translator = request.state.translator
    user: Principal | None = getattr(request.state, "user", None)
    if user is None:
        raise Refused(401, {"message": t("modeller.session_expired"), "signin": signin_url(BASE)})
    if user.role not in roles.PROCEDURE_WRITERS:
        raise Refused(403, {"message": t("error.403")})
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        _csrf(request, header)
    raw = await _read_body(request, limit)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused(422, {"message": t("modeller.bad_request", reason="JSON")}) from None
    if not isinstance(body, dict):
        raise Refused(422, {"message": t("modeller.bad_request", reason="JSON object")})
    if header is None:  # the token may come in the body instead of the header
        _csrf(request, body.get("csrf"))
    return user, body


def _csrf(request: Request, token: object) -> None:
    try:
        check_csrf(request, token)
    except CsrfRefused:
        raise Refused(403, {"message": request.state.translator("error.csrf")}) from None


def _text(request: Request, body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Refused(422, {"message": request.state.translator("modeller.bad_request", reason=name)})
    return value


def _source(request: Request, body: dict[str, Any]) -> bytes:
    """The XML sent, as the bytes a file upload would hold; refused past the API's ``max_bpmn_bytes``."""
    t: Translator = request.state.translator
    try:
        source = _text(request, body, "xml").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file holds one
        raise Refused(422, {"message": t("modeller.bad_request", reason="xml")}) from None
    limit = _bpmn_limit(request)
    if len(source) > limit:
        raise Refused(413, {"message": t("modeller.too_large", limit=t.number(limit))})
    return source


def _bpmn_limit(request: Request) -> int:
    settings: ApiSettings = request.app.state.api_settings
    return settings.max_bpmn_bytes


def _body_limit(request: Request) -> int:
    """A JSON body carrying a BPMN file: the file's limit, plus room for JSON's escapes."""
    return 2 * _bpmn_limit(request) + MAX_SMALL_BODY


def _problems(problems: list[Any]) -> list[dict[str, Any]]:
    return [problem_public(p).model_dump() for p in problems]


@router.post("/modeller/validate", include_in_schema=False)
async def validate(request: Request) -> Response:
    """The server's validator on the diagram: every problem with the id of its element."""
    try:
        _, body = await _json_call(request, _body_limit(request))
        source = _source(request, body)
    except Refused as refused:
        return _answer(refused.status, refused.body)
    problems = await run_in_threadpool(validate_source, source, _filename(body))
    return _answer(200, {"valid": not any(p.is_error for p in problems), "problems": _problems(problems)})


@router.post("/modeller/condition", include_in_schema=False)
async def condition(request: Request) -> Response:
    """Whether a gateway condition is in the engine's condition language (checked, never evaluated)."""
    t: Translator = request.state.translator
    try:
        _, body = await _json_call(request, MAX_SMALL_BODY)
        text = _text(request, body, "condition")
    except Refused as refused:
        return _answer(refused.status, refused.body)
    if not text.strip():
        return _answer(200, {"valid": False, "message": t("modeller.check.empty")})
    try:
        compile_condition(text[:MAX_CONDITION_LENGTH + 1])
    except ExpressionError as err:
        return _answer(200, {"valid": False, "message": str(err)})
    return _answer(200, {"valid": True, "message": t("modeller.check.ok")})


@router.post("/modeller/duration", include_in_schema=False)
async def duration(request: Request) -> Response:
    """Whether a deadline or statutory limit is a working-time duration, and how many working hours it is."""
    t: Translator = request.state.translator
    try:
        _, body = await _json_call(request, MAX_SMALL_BODY)
        text = _text(request, body, "duration").strip()
    except Refused as refused:
        return _answer(refused.status, refused.body)
    if not text:
        return _answer(200, {"valid": False, "message": t("modeller.check.empty")})
    try:
        seconds = parse_working_duration(text[:100])
    except DurationError as err:
        return _answer(200, {"valid": False, "message": str(err)})
    return _answer(200, {"valid": True, "working_hours": seconds / 3600,
                         "message": t("modeller.check.working_hours", hours=t.number(seconds / 3600, 1))})


@router.post("/modeller/deploy", include_in_schema=False)
async def deploy(request: Request) -> Response:
    """The diagram as a new version, for the agencies named (within the user's), by the API's own deploy."""
    eiso: App = request.app.state.eiso
    t: Translator = request.state.translator
    try:
        user, body = await _json_call(request, _body_limit(request))
        source = _source(request, body)
        agencies = _text(request, body, "agencies", required=False)
        if len(agencies) > MAX_SCOPE_TEXT:
            raise Refused(422, {"message": t("modeller.deploy.bad_agencies", reason=len(agencies))})
        try:
            scope = _scope_key(eiso, agencies)
        except ApiError as err:
            raise Refused(422, {"message": t("modeller.deploy.bad_agencies", reason=err.detail)}) from None
        try:
            may_manage(user, scope)
        except ApiError:
            codes = ", ".join(user.scope.codes) or "—"
            raise Refused(403, {"message": t("modeller.deploy.forbidden_scope", codes=codes)}) from None
        name = _filename(body)
        try:
            deployed = await run_in_threadpool(deploy_source, request, eiso, user, source, name, scope, Response())
        except ApiError as err:
            if err.status == 422:
                problems = [p.model_dump() for p in err.problems or []]
                errors = sum(p["severity"] == "error" for p in problems)
                raise Refused(422, {"message": t("modeller.deploy.refused", count=errors),
                                    "problems": problems}) from None
            if err.status == 409:
                raise Refused(409, {"message": t("modeller.deploy.conflict")}) from None
            raise Refused(err.status, {"message": t("modeller.failed", status=err.status)}) from None
    except Refused as refused:
        return _answer(refused.status, refused.body)
    scope_text = _scope_text(t, deployed.scope)
    if deployed.created:
        message = t("modeller.deploy.created", version=deployed.version, code=deployed.code, scope=scope_text)
    else:
        message = t("modeller.deploy.unchanged", version=deployed.version, code=deployed.code)
    return _answer(201 if deployed.created else 200, {
        "created": deployed.created, "code": deployed.code, "version": deployed.version, "scope": deployed.scope,
        "scope_text": scope_text, "agencies": deployed.agencies, "filename": deployed.filename,
        "parked_events_applied": deployed.parked_events_applied, "message": message,
        "warnings": [w.model_dump() for w in deployed.warnings],
        "open_url": f"{BASE}?{_query(deployed.code, deployed.version, deployed.scope)}",
    })


def _query(code: str, version: int, scope: str) -> str:
    return urlencode({"code": code, "version": version, "scope": scope})


def _filename(body: dict[str, Any]) -> str:
    """The file name to keep with the version: the one sent (cleaned), else ``procedure.bpmn``."""
    name = body.get("filename")
    if isinstance(name, str) and name.strip():
        cleaned = clean_filename(name[:400])
        return cleaned if cleaned.lower().endswith(".bpmn") else cleaned + ".bpmn"
    return "procedure.bpmn"
