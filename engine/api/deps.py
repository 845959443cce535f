"""Dependencies of the routes: the wired application, a database session, the current user.

``Annotated`` aliases keep route signatures short: ``AppDep``, ``SessionDep``,
``CurrentUser`` and one alias per group of roles (``Reader``, ``NcWorker``, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from engine.api import roles
from engine.api.errors import ApiError
from engine.api.oidc import OidcRefused, OidcVerifier
from engine.api.roles import UNSCOPED, Role
from engine.api.scope import AgencyScope
from engine.api.users import PREFIX, find_by_token
from engine.bootstrap import App
from engine.store.queries import Presenter

log = logging.getLogger("eiso.api.auth")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's user or an OIDC identity, with the agencies they see."""

    name: str
    role: Role
    scope: AgencyScope


def get_app(request: Request) -> App:
    app: App = request.app.state.eiso
    return app


AppDep = Annotated[App, Depends(get_app)]


def get_session(eiso: AppDep) -> Iterator[Session]:
    with Session(eiso.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_presenter(eiso: AppDep) -> Presenter:
    return Presenter(eiso.calendar)


PresenterDep = Annotated[Presenter, Depends(get_presenter)]

_bearer = HTTPBearer(auto_error=False, description="An eiso API token (`eiso users create`) or an OIDC JWT")


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def current_user(request: Request, eiso: AppDep,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    token = credentials.credentials
    if token.startswith(PREFIX):
        user = find_by_token(eiso.engine, token)
        if user is None:
            log.info("refused an unknown, revoked or disabled API token")
            raise _unauthorized("unknown, revoked or disabled API token")
        everything = user.role in UNSCOPED or not user.agencies
        return Principal(user.name, user.role, AgencyScope(everything=everything, codes=user.agencies))
    verifier: OidcVerifier | None = request.app.state.oidc
    if verifier is None:
        raise _unauthorized("not an eiso API token, and OIDC is not configured")
    try:
        identity = verifier.verify(token)
    except OidcRefused as err:
        log.info("refused an OIDC token: %s", err)
        raise _unauthorized(str(err)) from None
    scope = AgencyScope(everything=identity.role in UNSCOPED, codes=identity.agencies)
    return Principal(identity.name, identity.role, scope)


CurrentUser = Annotated[Principal, Depends(current_user)]


class Allow:
    """A dependency letting only ``roles`` through; the routers' one place for authorization."""

    def __init__(self, allowed: frozenset[Role]):
        self.roles = allowed

    def __call__(self, user: CurrentUser) -> Principal:
        if user.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise ApiError(403, f"the role {user.role.value} may not do this (allowed: {allowed})")
        return user


Anyone = Annotated[Principal, Depends(Allow(roles.EVERYONE))]
Reader = Annotated[Principal, Depends(Allow(roles.READERS))]
ProcedureWriter = Annotated[Principal, Depends(Allow(roles.PROCEDURE_WRITERS))]
NcWorker = Annotated[Principal, Depends(Allow(roles.NC_WORKERS))]
NcVerifier = Annotated[Principal, Depends(Allow(roles.NC_VERIFIERS))]
AuditReader = Annotated[Principal, Depends(Allow(roles.AUDIT_READERS))]
Ingester = Annotated[Principal, Depends(Allow(roles.INGESTERS))]
