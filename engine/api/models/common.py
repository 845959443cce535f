"""Shared pieces of the request and response models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

# Dates and times outside these years are refused: they overflow time-zone arithmetic.
MIN_YEAR, MAX_YEAR = 1970, 2200


def _printable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise ValueError("lone surrogates are not valid text")
    return text


def _sane_date(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000),
                     AfterValidator(_printable)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                      AfterValidator(_printable)]


SaneDate = Annotated[date, AfterValidator(_sane_date)]
SaneDateTime = Annotated[datetime, AfterValidator(_sane_date)]


def aware(value: datetime, zone: Any) -> datetime:
    """A query's time: naive means the calendar's zone."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


class RequestModel(BaseModel):
    """A request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


def hours(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
