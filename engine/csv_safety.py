"""Text from outside never becomes a spreadsheet formula (CSV/formula injection).

One rule for every CSV and spreadsheet eiso writes (the API's exports and the command line's
``--format csv``): a *text* cell starting with = + - @, a tab or a carriage return gets a leading
apostrophe, which spreadsheets show as text. Numbers stay numbers: a negative delay is data, and
only text can carry a formula.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula(value: Any) -> bool:
    """True for text a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_cell(value: Any) -> Any:
    """The value to write in a CSV cell: "" for None, text neutralised, anything else unchanged."""
    if value is None:
        return ""
    if is_formula(value):
        return "'" + value
    return value
