"""What the console's lists share: a whole number from the query, a "between two days" filter (the last
day included), the page's limit and offset, and the URL of another page of the same list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from engine.console.i18n import parse_date

MAX_OFFSET = 10_000_000


def whole(text: str | None, low: int, high: int, default: int | None) -> int | None:
    """A whole number written in ASCII digits within [low, high]; ``default`` for empty text; None when bad."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if low <= value <= high else None


def days_between(values: Mapping[str, str | None], first: str, last: str, zone: ZoneInfo, errors: dict[str, str],
                 order_error: str) -> tuple[datetime | None, datetime | None]:
    """The instants [start of ``first``'s day, start of the day after ``last``'s day) in ``zone``: the last day
    is included, as people read "from 01/03 to 31/03". Bad dates and a reversed range go into ``errors``."""
    instants: list[datetime | None] = []
    for name, days in ((first, 0), (last, 1)):
        try:
            day = parse_date(values[name])
        except ValueError:
            errors[name] = "common.bad_date"
            instants.append(None)
            continue
        instants.append(None if day is None else datetime.combine(day + timedelta(days=days), time(), tzinfo=zone))
    since, until = instants
    if since is not None and until is not None and until <= since:
        errors[last] = order_error
    return since, until


def paging(params: Mapping[str, str], page_size: int, max_page: int) -> tuple[int, int] | None:
    """The query's ``limit`` (default ``page_size``) and ``offset``, or None when either is bad."""
    limit = whole(params.get("limit"), 1, max_page, page_size)
    offset = whole(params.get("offset"), 0, MAX_OFFSET, 0)
    return None if limit is None or offset is None else (limit, offset)


def page_url(base: str, query: dict[str, str], page_size: int, limit: int, offset: int) -> str:
    """``base`` with the list's filters (``query``, already cleaned), and the page's limit and offset."""
    query = dict(query)
    if limit != page_size:
        query["limit"] = str(limit)
    if offset:
        query["offset"] = str(offset)
    return base + ("?" + urlencode(query) if query else "")
