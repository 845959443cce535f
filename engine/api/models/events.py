"""Event ingestion over HTTP: one answer per event."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel


class EventStatus(str, Enum):
    applied = "applied"
    duplicate = "duplicate"
    parked = "parked"
    refused = "refused"


class RaisedPublic(BaseModel):
    key: str
    type: str
    step: str | None


class EventOutcomePublic(BaseModel):
    index: int
    status: EventStatus
    event_id: str | None
    case_id: str | None
    step: str | None
    reason: str | None
    nonconformities: list[RaisedPublic]


class IngestPublic(BaseModel):
    results: list[EventOutcomePublic]
    applied: int
    duplicate: int
    parked: int
    refused: int


class IngestBusyPublic(IngestPublic):
    """409: another writer kept changing a case; its events (from the first one not applied on) were not
    applied. Every other event of the batch was handled and has its answer in ``results``."""

    detail: str
    not_applied: list[int]
    retry_after_seconds: int
