"""ISO 8601 durations in working time, as used for statutory limits and step allowances.

One working day (``P1D``) is 8 working hours and one week (``P1W``) 5 working days, whatever
hours a particular calendar has: the contract fixes these units.  Accepted::

    P10D  P0.5D  P0,5D  P2W  PT4H  PT30M  PT45S  P1DT4H  PT1H30M  P0D

Components come in the order W, D, T, H, M, S, each at most once; only the last one may carry
a fraction (``.`` or ``,``).  A zero duration (``P0D``, ``PT0H``) is allowed and means "due at
once"; negative durations, months and years (not working time) and anything else are refused
with ``DurationError``.  Letters are case-insensitive.  Results are whole working seconds, rounded half up.

A duration is at most ``MAX_WORKING_SECONDS`` (10,000 working hours, ``P1250D``: five years of
working time) and its text at most ``MAX_DURATION_CHARACTERS`` long, so no amount, however many
digits it has, can overflow anything downstream; ``maximum=None`` lifts the first bound only, to
read back a version deployed before it existed.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

from engine.core.calendar import DEFAULT_PERIODS, MAX_WORKING_SECONDS

__all__ = [
    "MAX_DURATION_CHARACTERS",
    "MAX_WORKING_SECONDS",
    "WORKING_DAY_SECONDS",
    "WORKING_WEEK_DAYS",
    "DurationError",
    "format_working_duration",
    "parse_working_duration",
]


WORKING_DAY_SECONDS: int = sum(
    (end.hour - start.hour) * 3600 + (end.minute - start.minute) * 60 + (end.second - start.second)
    for start, end in DEFAULT_PERIODS
)  # 8 h = 28 800 s
WORKING_WEEK_DAYS = 5
#: ``P1W2DT3H4M5.25S`` is 16 characters; 40 leaves room for any honest duration, and keeps the
#: exact arithmetic below far inside ``_PRECISION`` digits.
MAX_DURATION_CHARACTERS = 40
_PRECISION = 2 * MAX_DURATION_CHARACTERS + 10

_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"
_PATTERN = re.compile(rf"P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?")
_UNITS = (WORKING_WEEK_DAYS * WORKING_DAY_SECONDS, WORKING_DAY_SECONDS, 3600, 60, 1)


class DurationError(ValueError):
    """A duration that is not a working-time ISO 8601 duration."""


def parse_working_duration(text: str, *, maximum: int | None = MAX_WORKING_SECONDS) -> int:
    """Working seconds of an ISO 8601 working-time duration (``P1D`` = 8 h, ``P1W`` = 5 days).

    Longer than ``maximum`` working seconds is refused; ``None`` accepts any length (still bounded
    by ``MAX_DURATION_CHARACTERS``), for versions deployed before the bound.
    """
    if not isinstance(text, str):
        raise DurationError(f"duration must be text, got {type(text).__name__}")
    raw = text.strip().upper()

    def fail(why: str) -> DurationError:
        shown = text if len(text) <= MAX_DURATION_CHARACTERS else text[:MAX_DURATION_CHARACTERS] + "..."
        return DurationError(f"invalid working-time duration {shown!r}: {why}")

    if not raw:
        raise fail("empty; expected e.g. P10D, P0.5D or PT4H")
    if len(raw) > MAX_DURATION_CHARACTERS:
        raise fail(f"{len(raw):,} characters long; a duration is at most {MAX_DURATION_CHARACTERS} "
                   "(e.g. P10D, P1DT4H)")
    if raw.startswith("-"):
        raise fail("negative durations are not allowed")
    if not raw.startswith("P"):
        raise fail("must start with 'P' (e.g. P10D, PT4H)")
    date_part = raw.split("T", 1)[0]
    if "Y" in date_part or "M" in date_part:
        raise fail("months and years are not working time; use days (P22D) or weeks (P4W)")
    match = _PATTERN.fullmatch(raw)
    if match is None:
        raise fail("expected P[nW][nD][T[nH][nM][nS]], e.g. P10D, P1DT4H, PT1H30M")
    values = match.groups()
    present = [i for i, v in enumerate(values) if v is not None]
    if not present:
        raise fail("no amount given; expected e.g. P10D or PT4H")
    if "T" in raw and not any(values[i] is not None for i in (2, 3, 4)):
        raise fail("'T' must be followed by hours, minutes or seconds")
    for i in present[:-1]:
        if not str(values[i]).isdigit():
            raise fail("only the last component may have a fraction")
    with localcontext() as exact:
        exact.prec = _PRECISION
        total = sum((Decimal(str(values[i]).replace(",", ".")) * _UNITS[i] for i in present), Decimal(0))
        seconds = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if maximum is not None and seconds > maximum:
        raise fail(f"longer than {format_working_duration(maximum)} ({maximum // 3600:,} working hours), "
                   "the longest time limit or step allowance")
    return seconds


def format_working_duration(seconds: int) -> str:
    """The canonical duration for ``seconds`` working seconds: 28800 -> ``P1D``, 14400 -> ``PT4H``.

    Whole working days are written as days (never weeks); ``parse_working_duration`` inverts it.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"working seconds must be an int, got {type(seconds).__name__}")
    if seconds < 0:
        raise DurationError(f"cannot format a negative working duration ({seconds} s)")
    if seconds == 0:
        return "PT0S"
    days, rest = divmod(seconds, WORKING_DAY_SECONDS)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else "")
