"""Shared helpers of the commands: the wired application, times, error descriptions."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from engine.bootstrap import App, build
from engine.cli.output import fail
from engine.core.calendar_overrides import CalendarConfigError
from engine.core.events import parse_timestamp


@cache
def get_app() -> App:
    return build()


def parse_time(text: str, option: str) -> datetime:
    problems: list[str] = []
    value = parse_timestamp(text, option, problems)
    if value is None:
        # Accept a plain date or local time too, in the calendar's zone.
        try:
            naive = datetime.fromisoformat(text)
        except ValueError:
            fail("; ".join(problems))
            raise
        return naive.replace(tzinfo=get_app().calendar.zone)
    return value


def describe_error(err: Exception) -> str:
    if isinstance(err, CalendarConfigError):
        return f"calendar settings: {err}"
    if isinstance(err, OperationalError):
        return f"the database cannot be reached or used: {str(err.orig).strip().splitlines()[0]}"
    if isinstance(err, SQLAlchemyError):
        return f"database error: {str(err).splitlines()[0]}"
    if isinstance(err, ValueError):
        return str(err)
    return f"{type(err).__name__}: {err}"
