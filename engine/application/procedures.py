"""Deploying and retiring procedure versions, each with its audit entry in the version's transaction.

A new version is followed by the retry of the events parked while no version was in force;
retiring goes through the catalog, which drops its cached list of versions at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from engine.application.actor import Actor
from engine.application.outcomes import Outcome
from engine.core.states import EventOutcome
from engine.store.catalog import Deployment, Retirement, audit_deployment, audit_retirement

__all__ = ["Actor", "Catalog", "Deployed", "ParkedEvents", "deploy", "retire"]


class Catalog(Protocol):
    """``engine.store.catalog.ProcedureCatalog``: ``within`` runs in the change's own transaction."""

    def deploy(self, source: bytes, filename: str, at: datetime, agencies: Iterable[str] = (),
               within: Callable[[Any, Deployment], None] | None = None) -> Deployment: ...

    def retire(self, code: str, version: int, at: datetime, scope: str = ...,
               within: Callable[[Any, Retirement], None] | None = None) -> Retirement | None: ...


class ParkedEvents(Protocol):
    def retry_parked(self, procedure: str | None = None) -> list[Outcome]: ...


@dataclass(frozen=True)
class Deployed:
    deployment: Deployment
    retried: list[Outcome] = field(default_factory=list)  # the parked events tried again

    @property
    def applied(self) -> int:
        """Parked events that the new version let apply."""
        return sum(o.status == EventOutcome.APPLIED for o in self.retried)


def deploy(catalog: Catalog, parked: ParkedEvents, source: bytes, filename: str, agencies: Iterable[str],
           at: datetime, actor: Actor) -> Deployed:
    """Store ``source`` as a new version for ``agencies`` (an identical file changes nothing), audited;
    then apply the events parked for its code. Raises what ``ProcedureCatalog.deploy`` raises."""

    def audited(session: Any, deployment: Deployment) -> None:
        audit_deployment(session, actor=actor.name, role=actor.role, at=at, deployment=deployment)

    deployment = catalog.deploy(source, filename, at, agencies, within=audited)
    if not deployment.created:
        return Deployed(deployment)
    return Deployed(deployment, parked.retry_parked(deployment.code))


def retire(catalog: Catalog, code: str, version: int, scope: str, at: datetime, actor: Actor) -> Retirement | None:
    """Retire a version: no new case starts on it, running cases keep it; audited when it changes
    something. None when there is no such version."""

    def audited(session: Any, retirement: Retirement) -> None:
        audit_retirement(session, actor=actor.name, role=actor.role, at=at, retirement=retirement)

    return catalog.retire(code, version, at, scope, within=audited)
