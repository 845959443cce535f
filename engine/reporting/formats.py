"""The languages and file formats of reports, for the command line and the API alike."""

from __future__ import annotations

from enum import Enum


class Language(str, Enum):
    vi = "vi"
    en = "en"


class Format(str, Enum):
    """A report's file formats (the command line adds its own ``table`` for the terminal)."""
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
