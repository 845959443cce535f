"""Procedures: upload (validated like ``eiso procedures validate``), versions, XML, retirement."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from engine.api.deps import AppDep, Principal, ProcedureWriter, Reader, SessionDep
from engine.api.errors import CONFLICT, NOT_FOUND, ApiError, ErrorPublic, ProblemPublic, not_found
from engine.api.models.migrations import MigrationRequestBody, MigrationSummaryPublic
from engine.api.models.procedures import (
    DeploymentPublic,
    ProcedureVersionPublic,
    RetirementPublic,
    ValidationPublic,
)
from engine.api.roles import Role
from engine.api.scope import BadAgencyCode, check_code
from engine.application import procedures
from engine.application.migration import (
    MigrationConflict,
    MigrationRequest,
    ProcedureNotFound,
    StepMapInvalid,
    migrate_cases,
)
from engine.bootstrap import App
from engine.core.agency import EVERY_AGENCY, MAX_SCOPE_AGENCIES, concerns, scope_agencies
from engine.core.events import AGENCY_CODE_PATTERN
from engine.procedures.loader import Problem, ProcedureInvalid, validate_source
from engine.store.catalog import ScopeInvalid, ascii_filename, clean_filename, version_key
from engine.store.tables import ProcedureVersion

router = APIRouter(prefix="/procedures", tags=["procedures"])

Code = Annotated[str, Path(min_length=1, max_length=64, description="National procedure code, e.g. 1.001806")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
AgencyCode = Annotated[str, Field(min_length=1, max_length=100, pattern=AGENCY_CODE_PATTERN)]
AgencyQuery = Annotated[list[AgencyCode] | None, Query(
    max_length=MAX_SCOPE_AGENCIES, description="The agencies the deployment covers (repeat for several; each "
    "covers the codes below it). None: every agency, which only admin may deploy or retire.")]
RAW_TYPES = ("application/xml", "text/xml", "application/bpmn+xml", "application/octet-stream")
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char besides letters and digits: left as they are
_UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "The .bpmn file"},
            "agency": {"type": "array", "maxItems": MAX_SCOPE_AGENCIES, "items": {"type": "string", "maxLength": 100,
                                                                                 "pattern": AGENCY_CODE_PATTERN},
                       "description": "Agencies the deployment covers, as the `agency` query parameter"}}}},
        **{media: {"schema": {"type": "string", "format": "binary"}} for media in RAW_TYPES},
    },
}
# /validate reads the file only: its form has no ``agency`` field to document (or to leave unchecked)
_VALIDATE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "The .bpmn file"}}}},
        **{media: {"schema": {"type": "string", "format": "binary"}} for media in RAW_TYPES},
    },
}
_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorPublic, "description": "A concurrent upload of the same procedure; retry"},
    415: {"model": ErrorPublic, "description": "Neither multipart/form-data nor an XML body"},
    422: {"model": ErrorPublic, "description": "The file is refused: every problem in `problems`"},
}


def _public(row: ProcedureVersion, eiso: App) -> ProcedureVersionPublic:
    return ProcedureVersionPublic(
        code=row.code, version=row.version, scope=row.scope, agencies=list(scope_agencies(row.scope)),
        name=row.name, process_id=row.process_id, filename=row.filename,
        checksum=row.checksum, statutory_limit_working_hours=round(row.statutory_limit_seconds / 3600, 2),
        deployed_at=eiso.calendar.local(row.deployed_at),
        retired_at=eiso.calendar.local(row.retired_at) if row.retired_at else None,
        in_force=row.retired_at is None)


def _actor(user: Principal) -> procedures.Actor:
    return procedures.Actor(user.name, user.role.value)


def problem_public(p: Problem) -> ProblemPublic:
    return ProblemPublic(file=p.file, element_id=p.element_id, message=p.message, severity=p.severity)


def requested_scope(eiso: App, agencies: list[str]) -> str:
    """The scope key of the agencies a request names (422 for a bad code or too many)."""
    try:
        return eiso.catalog.scope_of(check_code(code) for code in agencies)
    except (BadAgencyCode, ScopeInvalid) as err:
        raise ApiError(422, str(err)) from None


def may_manage(user: Principal, scope: str) -> None:
    """Process owners deploy and retire only within their agencies; "every agency" is admin's alone."""
    if user.role is Role.admin:
        return
    if scope == EVERY_AGENCY:
        raise ApiError(403, "only admin deploys or retires a procedure for every agency: name the agencies it "
                            "covers (?agency=CODE)")
    outside = [code for code in scope_agencies(scope) if not user.scope.covers(code)]
    if outside:
        raise ApiError(403, f"agency {outside[0]} is outside your agencies: you deploy and retire procedures only "
                            "for the agencies you are bound to")


async def _source(request: Request, filename: str | None) -> tuple[bytes, str, list[str]]:
    """The uploaded file, its name and the form's ``agency`` fields, from a multipart form or a raw XML body."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=4 + MAX_SCOPE_AGENCIES)
        except Exception as err:  # malformed multipart (Starlette says 400); a body too large stays 413
            if getattr(err, "status_code", None) == 413:
                raise
            raise ApiError(422, f"malformed multipart body: {getattr(err, 'detail', err)}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "the multipart form needs a file field named 'file'")
        agencies = [value for value in form.getlist("agency") if isinstance(value, str)]
        return await upload.read(), clean_filename(filename or upload.filename), agencies
    if media in RAW_TYPES:
        return await request.body(), clean_filename(filename), []
    raise ApiError(415, f"send the BPMN file as multipart/form-data (field 'file') or as one of {', '.join(RAW_TYPES)}")


def _refused(problems: list[Problem], filename: str) -> ApiError:
    errors = [p for p in problems if p.is_error]
    return ApiError(422, f"{filename}: {len(errors)} problem(s); nothing deployed",
                    [problem_public(p) for p in problems])


@router.get("", response_model=list[ProcedureVersionPublic], summary="List procedure versions")
def list_versions(user: Reader, eiso: AppDep, session: SessionDep,
                  code: Annotated[str | None, Query(max_length=64)] = None,
                  in_force: Annotated[bool | None, Query(description="Only versions not retired (or only retired)")]
                  = None, limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[ProcedureVersionPublic]:
    query = select(ProcedureVersion).order_by(col(ProcedureVersion.code), col(ProcedureVersion.scope),
                                              col(ProcedureVersion.version))
    if code is not None:
        query = query.where(ProcedureVersion.code == code)
    if in_force is not None:
        retired = col(ProcedureVersion.retired_at)
        query = query.where(retired.is_(None) if in_force else retired.is_not(None))
    if user.scope.everything:
        return [_public(row, eiso) for row in session.exec(query.limit(limit).offset(offset)).all()]
    # a few hundred versions per province: scope keys are matched here, by the rule's one home
    rows = [row for row in session.exec(query).all() if concerns(row.scope, user.scope.codes)]
    return [_public(row, eiso) for row in rows[offset:offset + limit]]


@router.post("/validate", response_model=ValidationPublic, openapi_extra={"requestBody": _VALIDATE_BODY},
             responses={415: _UPLOAD_RESPONSES[415]}, summary="Validate a BPMN file without deploying it")
async def validate(request: Request, user: ProcedureWriter,
                   filename: Annotated[str | None, Query(max_length=200)] = None) -> ValidationPublic:
    source, name, _ = await _source(request, filename)
    problems = await run_in_threadpool(validate_source, source, name)
    return ValidationPublic(valid=not any(p.is_error for p in problems), problems=[problem_public(p) for p in problems])


@router.post("", response_model=DeploymentPublic, status_code=201, openapi_extra={"requestBody": _UPLOAD_BODY},
             responses=_UPLOAD_RESPONSES, summary="Upload a BPMN file: a changed file makes a new version")
async def upload(request: Request, user: ProcedureWriter, eiso: AppDep, response: Response,
                 filename: Annotated[str | None, Query(max_length=200)] = None,
                 agency: AgencyQuery = None) -> DeploymentPublic:
    source, name, form_agencies = await _source(request, filename)
    scope = requested_scope(eiso, [*(agency or []), *form_agencies])
    may_manage(user, scope)
    return await run_in_threadpool(deploy_source, request, eiso, user, source, name, scope, response)


def deploy_source(request: Request, eiso: App, user: Principal, source: bytes, name: str, scope: str,
            response: Response) -> DeploymentPublic:
    problems = validate_source(source, name)
    if any(p.is_error for p in problems):
        raise _refused(problems, name)
    with request.app.state.writer_lock:
        try:
            deployed = procedures.deploy(eiso.catalog, eiso.service, source, name, scope_agencies(scope),
                                         eiso.clock.now(), _actor(user))
        except ProcedureInvalid as err:
            raise _refused(err.problems, name) from None
        except IntegrityError:
            raise ApiError(409, "another version of this procedure was deployed at the same time; retry") from None
    deployment = deployed.deployment
    if not deployment.created:
        response.status_code = 200
    return DeploymentPublic(code=deployment.code, version=deployment.version, scope=deployment.scope,
                            agencies=list(deployment.agencies), name=deployment.name,
                            filename=deployment.filename, checksum=deployment.checksum,
                            deployed_at=eiso.calendar.local(deployment.deployed_at), created=deployment.created,
                            parked_events_applied=deployed.applied,
                            warnings=[problem_public(p) for p in problems if not p.is_error])


def concerning_version(session: SessionDep, code: str, version: int, scope: str, user: Principal) -> ProcedureVersion:
    """The version, if it exists and concerns the user (``concerns``); else 404, as for a version that does not."""
    row = session.exec(select(ProcedureVersion).where(ProcedureVersion.code == code, ProcedureVersion.scope == scope,
                                                      ProcedureVersion.version == version)).first()
    if row is None or not (user.scope.everything or concerns(row.scope, user.scope.codes)):
        raise not_found(f"procedure {version_key(code, version, scope)}")
    return row


@router.get("/{code}/versions/{version}", response_model=ProcedureVersionPublic, responses=NOT_FOUND,
            summary="One procedure version")
def get_version(code: Code, version: Version, user: Reader, eiso: AppDep, session: SessionDep,
                agency: AgencyQuery = None) -> ProcedureVersionPublic:
    return _public(concerning_version(session, code, version, requested_scope(eiso, agency or []), user), eiso)


@router.get("/{code}/versions/{version}/bpmn", response_class=Response, summary="Download a version's BPMN XML",
            responses={**NOT_FOUND, 200: {"content": {"application/xml": {"schema": {"type": "string"}}},
                                          "description": "The BPMN file as deployed"}})
def download(code: Code, version: Version, user: Reader, eiso: AppDep, session: SessionDep,
             agency: AgencyQuery = None) -> Response:
    row = concerning_version(session, code, version, requested_scope(eiso, agency or []), user)
    # RFC 6266: an ASCII fallback, then the UTF-8 name percent-encoded (RFC 5987); both from the
    # cleaned name, so a name stored before names were cleaned cannot break the header either.
    name = clean_filename(row.filename)
    disposition = f"attachment; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"
    return Response(content=row.source, media_type="application/xml",
                    headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"})


@router.post("/{code}/versions/{version}/retire", response_model=RetirementPublic, responses={**NOT_FOUND, **CONFLICT},
             summary="Retire a version: no new case starts on it; running cases keep it")
def retire(code: Code, version: Version, user: ProcedureWriter, eiso: AppDep,
           agency: AgencyQuery = None) -> RetirementPublic:
    scope = requested_scope(eiso, agency or [])
    may_manage(user, scope)  # before the lookup: another agency's versions are not even looked up
    retirement = procedures.retire(eiso.catalog, code, version, scope, eiso.clock.now(), _actor(user))
    if retirement is None:
        raise not_found(f"procedure {version_key(code, version, scope)}")
    return RetirementPublic(code=code, version=version, scope=scope, agencies=list(scope_agencies(scope)),
                            retired_at=eiso.calendar.local(retirement.retired_at), changed=retirement.changed)


@router.post("/{code}/migrations", response_model=MigrationSummaryPublic,
             responses={**NOT_FOUND, **CONFLICT, 422: {"model": ErrorPublic, "description": "A step map naming a "
                                                       "step that does not exist; nothing is written"}},
             summary="Move running cases to a new version (dry_run: only the plan, with the new dues)")
def migrate_running_cases(code: Code, body: MigrationRequestBody, request: Request, user: ProcedureWriter,
                          eiso: AppDep) -> MigrationSummaryPublic:
    """As ``eiso procedures migrate``: an agency-bound user moves only their agencies' cases, and only those
    following a deployment they may manage (``may_manage``); the others are listed as staying."""
    outside = [agency for agency in body.agencies if not user.scope.covers(agency)]
    if outside:
        raise ApiError(403, f"agency {outside[0]} is outside your agencies: you migrate only your agencies' cases")

    def manages(scope: str) -> bool:
        try:
            may_manage(user, scope)
        except ApiError:
            return False
        return True

    wanted = MigrationRequest(code=code, to_version=body.to, from_version=body.from_, agencies=tuple(body.agencies),
                              step_map=dict(body.map), dry_run=body.dry_run)
    try:
        with request.app.state.writer_lock:  # the case service's cache is dropped for each case moved
            summary = migrate_cases(eiso.engine, eiso.catalog, eiso.calendar, wanted, _actor(user), eiso.clock.now(),
                                    visible=None if user.scope.everything else user.scope.covers,
                                    manages=manages, forget=eiso.service.forget)
    except ProcedureNotFound as err:
        raise ApiError(404, str(err)) from None
    except StepMapInvalid as err:
        raise ApiError(422, f"{err}; nothing migrated") from None
    except MigrationConflict as err:
        raise ApiError(409, str(err)) from None
    return MigrationSummaryPublic.model_validate(summary.to_dict(eiso.calendar))
