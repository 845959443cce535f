"""Procedures: upload (validated like ``eiso procedures validate``), versions, XML, retirement."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from engine.api import audit
from engine.api.deps import AppDep, Principal, ProcedureWriter, Reader, SessionDep
from engine.api.errors import CONFLICT, NOT_FOUND, ApiError, ErrorPublic, ProblemPublic, not_found
from engine.api.models.procedures import (
    DeploymentPublic,
    ProcedureVersionPublic,
    RetirementPublic,
    ValidationPublic,
)
from engine.bootstrap import App
from engine.procedures.loader import Problem, ProcedureInvalid, validate_source
from engine.store.catalog import Deployment
from engine.store.tables import ProcedureVersion

router = APIRouter(prefix="/procedures", tags=["procedures"])

Code = Annotated[str, Path(min_length=1, max_length=64, description="National procedure code, e.g. 1.001806")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
RAW_TYPES = ("application/xml", "text/xml", "application/bpmn+xml", "application/octet-stream")
_UPLOAD_BODY: dict[str, Any] = {
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
_SAFE_NAME = re.compile(r"[^\w.\- ]+")


def _public(row: ProcedureVersion, eiso: App) -> ProcedureVersionPublic:
    return ProcedureVersionPublic(
        code=row.code, version=row.version, name=row.name, process_id=row.process_id, filename=row.filename,
        checksum=row.checksum, statutory_limit_working_hours=round(row.statutory_limit_seconds / 3600, 2),
        deployed_at=eiso.calendar.local(row.deployed_at),
        retired_at=eiso.calendar.local(row.retired_at) if row.retired_at else None,
        in_force=row.retired_at is None)


def _problem(p: Problem) -> ProblemPublic:
    return ProblemPublic(file=p.file, element_id=p.element_id, message=p.message, severity=p.severity)


def _clean_name(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("_", base.replace("\x00", "")).strip()[:200]
    return base or "upload.bpmn"


async def _source(request: Request, filename: str | None) -> tuple[bytes, str]:
    """The uploaded file and its name, from a multipart form or a raw XML body."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception as err:  # malformed multipart (Starlette says 400); a body too large stays 413
            if getattr(err, "status_code", None) == 413:
                raise
            raise ApiError(422, f"malformed multipart body: {getattr(err, 'detail', err)}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "the multipart form needs a file field named 'file'")
        return await upload.read(), _clean_name(filename or upload.filename)
    if media in RAW_TYPES:
        return await request.body(), _clean_name(filename)
    raise ApiError(415, f"send the BPMN file as multipart/form-data (field 'file') or as one of {', '.join(RAW_TYPES)}")


def _refused(problems: list[Problem], filename: str) -> ApiError:
    errors = [p for p in problems if p.is_error]
    return ApiError(422, f"{filename}: {len(errors)} problem(s); nothing deployed", [_problem(p) for p in problems])


@router.get("", response_model=list[ProcedureVersionPublic], summary="List procedure versions")
def list_versions(user: Reader, eiso: AppDep, session: SessionDep,
                  code: Annotated[str | None, Query(max_length=64)] = None,
                  in_force: Annotated[bool | None, Query(description="Only versions not retired (or only retired)")]
                  = None) -> list[ProcedureVersionPublic]:
    query = select(ProcedureVersion).order_by(col(ProcedureVersion.code), col(ProcedureVersion.version))
    if code is not None:
        query = query.where(ProcedureVersion.code == code)
    if in_force is not None:
        retired = col(ProcedureVersion.retired_at)
        query = query.where(retired.is_(None) if in_force else retired.is_not(None))
    return [_public(row, eiso) for row in session.exec(query).all()]


@router.post("/validate", response_model=ValidationPublic, openapi_extra={"requestBody": _UPLOAD_BODY},
             responses={415: _UPLOAD_RESPONSES[415]}, summary="Validate a BPMN file without deploying it")
async def validate(request: Request, user: ProcedureWriter,
                   filename: Annotated[str | None, Query(max_length=200)] = None) -> ValidationPublic:
    source, name = await _source(request, filename)
    problems = await run_in_threadpool(validate_source, source, name)
    return ValidationPublic(valid=not any(p.is_error for p in problems), problems=[_problem(p) for p in problems])


@router.post("", response_model=DeploymentPublic, status_code=201, openapi_extra={"requestBody": _UPLOAD_BODY},
             responses=_UPLOAD_RESPONSES, summary="Upload a BPMN file: a changed file makes a new version")
async def upload(request: Request, user: ProcedureWriter, eiso: AppDep, response: Response,
                 filename: Annotated[str | None, Query(max_length=200)] = None) -> DeploymentPublic:
    source, name = await _source(request, filename)
    return await run_in_threadpool(_deploy, request, eiso, user, source, name, response)


def _deploy(request: Request, eiso: App, user: Principal, source: bytes, name: str,
            response: Response) -> DeploymentPublic:
    problems = validate_source(source, name)
    if any(p.is_error for p in problems):
        raise _refused(problems, name)
    now = eiso.clock.now()
    with request.app.state.writer_lock:
        def audited(session: Session, deployment: Deployment) -> None:  # in the version's own transaction
            audit.record(session, user, now, "procedure.deploy", "procedure", f"{deployment.code}/"
                         f"{deployment.version}", None, None,
                         {"code": deployment.code, "version": deployment.version, "checksum": deployment.checksum,
                          "filename": name})

        try:
            deployment = eiso.catalog.deploy(source, name, now, within=audited)
        except ProcedureInvalid as err:
            raise _refused(err.problems, name) from None
        except IntegrityError:
            raise ApiError(409, "another version of this procedure was deployed at the same time; retry") from None
        applied = 0
        if deployment.created:
            outcomes = eiso.service.retry_parked(deployment.code)
            applied = sum(o.status == "applied" for o in outcomes)
        else:
            response.status_code = 200
    return DeploymentPublic(code=deployment.code, version=deployment.version, name=deployment.name,
                            filename=deployment.filename, checksum=deployment.checksum,
                            deployed_at=eiso.calendar.local(deployment.deployed_at), created=deployment.created,
                            parked_events_applied=applied,
                            warnings=[_problem(p) for p in problems if not p.is_error])


def _version(session: SessionDep, code: str, version: int) -> ProcedureVersion:
    row = session.exec(select(ProcedureVersion).where(ProcedureVersion.code == code,
                                                      ProcedureVersion.version == version)).first()
    if row is None:
        raise not_found(f"procedure {code} version {version}")
    return row


@router.get("/{code}/versions/{version}", response_model=ProcedureVersionPublic, responses=NOT_FOUND,
            summary="One procedure version")
def get_version(code: Code, version: Version, user: Reader, eiso: AppDep,
                session: SessionDep) -> ProcedureVersionPublic:
    return _public(_version(session, code, version), eiso)


@router.get("/{code}/versions/{version}/bpmn", response_class=Response, summary="Download a version's BPMN XML",
            responses={**NOT_FOUND, 200: {"content": {"application/xml": {"schema": {"type": "string"}}},
                                          "description": "The BPMN file as deployed"}})
def download(code: Code, version: Version, user: Reader, session: SessionDep) -> Response:
    row = _version(session, code, version)
    ascii_name = row.filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}"
    return Response(content=row.source, media_type="application/xml",
                    headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"})


@router.post("/{code}/versions/{version}/retire", response_model=RetirementPublic, responses={**NOT_FOUND, **CONFLICT},
             summary="Retire a version: no new case starts on it; running cases keep it")
def retire(code: Code, version: Version, user: ProcedureWriter, eiso: AppDep, session: SessionDep) -> RetirementPublic:
    row = _version(session, code, version)
    if row.retired_at is not None:
        return RetirementPublic(code=code, version=version, retired_at=eiso.calendar.local(row.retired_at),
                                changed=False)
    now = eiso.clock.now()
    result = session.exec(update(ProcedureVersion).where(
        col(ProcedureVersion.id) == row.id, col(ProcedureVersion.retired_at).is_(None)).values(retired_at=now))
    if result.rowcount != 1:
        raise ApiError(409, "the version was retired meanwhile")
    audit.record(session, user, now, "procedure.retire", "procedure", f"{code}/{version}", None,
                 {"retired_at": None}, {"retired_at": now})
    session.commit()
    return RetirementPublic(code=code, version=version, retired_at=eiso.calendar.local(now), changed=True)
