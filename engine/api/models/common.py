"""Shared pieces of the request and response models."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, WithJsonSchema

from engine.core.events import MAX_YEAR, MIN_YEAR

# Dates and times are ISO 8601 text in the years MIN_YEAR..MAX_YEAR (beyond them time-zone arithmetic
# overflows), and the OpenAPI document states exactly that as a pattern, which the server applies
# itself before parsing: what the schema allows parses, nothing else does (not `?to=0.5`, a number
# of seconds, nor 2026-02-30). The years, months and leap days are spelled out for 1970-2200.
_YEAR = r"(19[7-9][0-9]|20[0-9]{2}|21[0-9]{2}|2200)"
_LEAP_YEAR = r"(19(7[26]|8[048]|9[26])|20([02468][048]|[13579][26])|21([02468][48]|[2468]0|[13579][26]))"
_MONTH_DAY = (r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
              r"|02-(0[1-9]|1[0-9]|2[0-8]))")
_DATE = rf"({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DATE_PATTERN = rf"^{_DATE}$"
DATE_TIME_PATTERN = rf"^{_DATE}({_TIME}{_OFFSET}?)?$"


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


def _written(pattern: str, what: str) -> Callable[[Any], Any]:
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, date):  # already parsed (a default, or a model built in code)
            return value
        if not isinstance(value, str) or not compiled.match(value):
            raise ValueError(f"{what} in the years {MIN_YEAR}-{MAX_YEAR}")
        return value

    return check


# The whitespace pydantic strips (Unicode White_Space), spelled out so that the schema's pattern means what the
# server does: text is stripped, must keep another character, and never holds a NUL (PostgreSQL cannot store one).
_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"


def _text(most: int) -> Any:
    def at_most(value: Any) -> Any:  # on the text as sent, as the schema's maxLength reads it
        if isinstance(value, str) and len(value) > most:
            raise ValueError(f"at most {most} characters")
        return value

    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), BeforeValidator(at_most),
                     AfterValidator(_printable),
                     WithJsonSchema({"type": "string", "minLength": 1, "maxLength": most, "pattern": TEXT_PATTERN})]


LongText = _text(5000)
ShortText = _text(200)


SaneDate = Annotated[date, BeforeValidator(_written(DATE_PATTERN, "an ISO 8601 date like 2026-03-02")),
                     AfterValidator(_sane_date), WithJsonSchema({"type": "string", "pattern": DATE_PATTERN})]
_DATE_TIME = "an ISO 8601 date, or a date and time like 2026-03-02T08:00:00+07:00 (no offset: the calendar's zone)"
SaneDateTime = Annotated[
    datetime, BeforeValidator(_written(DATE_TIME_PATTERN, _DATE_TIME)),
    AfterValidator(_sane_date), WithJsonSchema({"type": "string", "pattern": DATE_TIME_PATTERN})]


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
