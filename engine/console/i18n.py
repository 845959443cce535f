"""The console's two languages: Vietnamese by default, English on a switch.

Every word a page shows comes from ``engine.console.messages``: one module per area, each with
the same keys in ``VI`` and ``EN``. Numbers and dates are written the way each language writes
them: ``dd/mm/yyyy`` both ways, a decimal comma in Vietnamese.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from types import ModuleType
from typing import Literal
from zoneinfo import ZoneInfo

from engine.console.messages import (
    audit,
    cases,
    common,
    migration,
    modeller,
    nonconformities,
    procedures,
    reports,
    review,
)

log = logging.getLogger("eiso.console")

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")
AREAS: tuple[ModuleType, ...] = (common, procedures, cases, nonconformities, reports, audit, modeller, migration,
                                  review)


def _merged(attribute: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for area in AREAS:
        table: Mapping[str, str] = getattr(area, attribute)
        for key, text in table.items():
            if key in merged:
                raise ValueError(f"console message {key!r} is defined twice")
            merged[key] = text
    return merged


MESSAGES: dict[Language, dict[str, str]] = {"vi": _merged("VI"), "en": _merged("EN")}


def language_of(value: str | None, default: Language = "vi") -> Language:
    return "en" if value == "en" else "vi" if value == "vi" else default


class Translator:
    """``t(key, **values)`` in one language, plus the number and date formats of that language."""

    def __init__(self, language: Language, zone: ZoneInfo):
        self.language = language
        self.zone = zone
        self._table = MESSAGES[language]

    def __call__(self, key: str, **values: object) -> str:
        text = self._table.get(key)
        if text is None:
            log.warning("console message %r is missing in %s", key, self.language)
            return key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self._table

    def number(self, value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,d}"
        if self.language == "vi":
            text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
        return text

    def percent(self, ratio: float | None, digits: int = 1) -> str:
        return "—" if ratio is None else f"{self.number(ratio * 100, digits)}%"

    def hours(self, seconds: float | int | None) -> str:
        return "—" if seconds is None else self("common.hours", hours=self.number(seconds / 3600, 1))

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return value.strftime("%d/%m/%Y")

    def datetime(self, value: datetime | None) -> str:
        """``dd/mm/yyyy HH:MM`` in the calendar's time zone."""
        return "—" if value is None else value.astimezone(self.zone).strftime("%d/%m/%Y %H:%M")


def parse_date(text: str | None) -> date | None:
    """A date written ``dd/mm/yyyy`` (or ISO ``yyyy-mm-dd``, what a date input sends) in 1970-2200;
    None for empty text; ``ValueError`` otherwise."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    for form in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            found = datetime.strptime(text, form).date()
        except ValueError:
            continue
        if 1970 <= found.year <= 2200:
            return found
        raise ValueError(text)
    raise ValueError(text)
