"""The time limit of a procedure as the national database publishes it, read as working time.

The national database of administrative procedures (Cơ sở dữ liệu quốc gia về thủ tục hành chính)
publishes each procedure's "Thời hạn giải quyết" as Vietnamese free text, e.g. ``10 ngày làm việc kể từ
ngày nhận đủ hồ sơ hợp lệ``.  ``parse_published_limit`` turns it into eiso's working-time duration (the
representation of ``statutoryLimit``: an ISO 8601 working duration, ``P1D`` = 8 working hours, and its
working seconds), or says plainly why it could not.

How phrasings are read (case, extra spaces, non-breaking spaces, Unicode forms and trailing periods
do not matter):

- ``N ngày làm việc`` / ``N giờ làm việc`` / ``N tuần làm việc`` / ``N phút làm việc``: ``PND`` / ``PTNH`` /
  ``PNW`` / ``PTNM``.  ``N`` may have leading zeros (``03``), a decimal comma or point (``0,5``), or be
  written in words up to 99 (``mười``, ``hai mươi lăm``, ``nửa`` = 0.5).
- Words around the amount are ignored: ``Không quá``, ``Tối đa``, ``Trong thời hạn``, ``Trong vòng``,
  ``kể từ ngày nhận đủ hồ sơ hợp lệ``...; so is a breakdown in parentheses or after ``trong đó``
  (``07 ngày làm việc (trong đó: 03 ngày tại xã...)``), and a time of day (``sau 15 giờ``).
- A range (``05 - 07 ngày làm việc``, ``từ 05 đến 07 ngày làm việc``) is read as its **upper bound**:
  the law allows the whole range, so only a case past the upper bound is late.
- ``Trong ngày``, ``Ngay trong ngày``, ``Trong ngày làm việc``, ``Giải quyết ngay``, ``Trả ngay``: the
  same working day (the one-stop unit resolves it at the counter).  eiso's limits are durations from the
  case clock's start and cannot say "until the close of the receipt day", so these are read as **one
  working day** (``P1D``), noted ``same working day``: with the 15:00 cut-off a dossier received in the
  afternoon is due the next working day, as Decree 61/2018/NĐ-CP says for these procedures, and the
  bundled birth registration (1.001193, published "Ngay trong ngày tiếp nhận hồ sơ; trường hợp nhận hồ
  sơ sau 15 giờ...") is deployed with ``P1D``.  A zero limit would judge every dossier late by the
  seconds spent at the counter.

Refused (``Unreadable`` with the reason):

- days, weeks, hours or minutes without ``làm việc`` (``15 ngày``, ``30 ngày kể từ ngày nhận đủ hồ sơ``,
  ``24 giờ``): calendar time, which counts weekends and holidays; eiso measures working time only, and
  the number of working days in N calendar days depends on the day the dossier arrives;
- months and years (``01 tháng``): calendar time as well;
- several different limits (``05 ngày làm việc; trường hợp phải xác minh thì 10 ngày làm việc``): the
  right one depends on the case, so a person chooses;
- ``ngày làm việc tiếp theo`` alone (the next working day): no fixed working duration;
- a zero limit, a limit longer than the longest eiso keeps (``P1250D``), an empty text or
  ``Không quy định``, and text with no amount and unit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from engine.core.durations import DurationError, format_working_duration, parse_working_duration

__all__ = ["SAME_WORKING_DAY", "PublishedLimit", "Unreadable", "parse_published_limit"]

SAME_WORKING_DAY = "same working day"


@dataclass(frozen=True, slots=True)
class PublishedLimit:
    """A published limit read as working time: ``duration`` (canonical, e.g. ``P10D``, ``PT4H``) and
    its working ``seconds``; ``note`` says how an approximate phrasing was read (empty otherwise)."""

    duration: str
    seconds: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A published limit that cannot be read as working time, and why."""

    reason: str


_DIGITS: dict[str, int] = {"một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "lăm": 5,
                           "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9}
_WORD = r"(?:một|mốt|hai|ba|bốn|tư|năm|lăm|sáu|bảy|bẩy|tám|chín|mười|mươi|linh|lẻ)"
_AMOUNT = rf"(?:[0-9]+(?:[.,][0-9]+)?|nửa|{_WORD}(?: {_WORD})*)"
_UNIT = r"(ngày|giờ|tuần|tháng|năm|phút)( làm việc)?"
_LIMIT = re.compile(rf"(?<![\w.,/])({_AMOUNT})(?: ?(?:-|–|—|~|đến|tới) ?({_AMOUNT}))? ?{_UNIT}(?!\w)")
_TIME_OF_DAY = re.compile(r"(?:sau|trước|lúc|vào) [0-9]{1,2} ?(?:giờ|h)(?! làm việc)(?: ?[0-9]{1,2}(?: ?phút)?)?"
                          r"|(?<!\w)[0-9]{1,2} ?h ?[0-9]{0,2}(?!\w)|(?<!\w)[0-9]{1,2}:[0-9]{2}(?!\w)")
_DATE = re.compile(r"(?<!\w)[0-9]{1,2}/[0-9]{1,2}(?:/[0-9]{2,4})?(?!\w)")
_PARENTHESES = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_BREAKDOWN = re.compile(r"trong đó[^;]*")
_NO_LIMIT = re.compile(r"(?:không quy định|không có|không|chưa quy định|theo quy định|không thời hạn)[ .]*")
_SAME_DAY = re.compile(r"(?<!\w)(?:trong|cùng|trong cùng|ngay trong|ngay) (?:1 |một |01 )?ngày(?!\w)"
                       r"|(?<!\w)(?:giải quyết|trả kết quả|trả|cấp|thực hiện) ngay(?!\w)"
                       r"|(?<!\w)ngay (?:khi|sau khi|lập tức|tại chỗ)(?!\w)|^ngay(?!\w)")
_NEXT_DAY = re.compile(r"ngày làm việc tiếp theo|ngày làm việc kế tiếp")
_UNIT_LETTERS = {"ngày": "D", "tuần": "W", "giờ": "H", "phút": "M"}
_UNIT_NAMES = {"ngày": "days", "tuần": "weeks", "giờ": "hours", "phút": "minutes", "tháng": "months",
               "năm": "years"}


def parse_published_limit(text: str) -> PublishedLimit | Unreadable:
    """The working-time duration of a published "Thời hạn giải quyết", or why it has none."""
    if not isinstance(text, str):
        return Unreadable(f"a time limit is text, got {type(text).__name__}")
    normal = _normalise(text)
    if not normal:
        return Unreadable("no time limit given")
    if _NO_LIMIT.fullmatch(normal):
        return Unreadable(f"no time limit published ({normal!r})")
    body = normal
    previous = None
    while previous != body:  # nested parentheses, innermost first
        previous, body = body, _PARENTHESES.sub(" ", body)
    body = _BREAKDOWN.sub(" ", body)
    body = _DATE.sub(" ", body)
    body = _TIME_OF_DAY.sub(" ", body)
    body = re.sub(r" +", " ", body).strip()
    found = list(_LIMIT.finditer(body))
    if not found:
        first = re.split(r"[;.,]|trường hợp", body, maxsplit=1)[0]
        if _SAME_DAY.search(first) and not _NEXT_DAY.search(first):
            return PublishedLimit(format_working_duration(8 * 3600), 8 * 3600, SAME_WORKING_DAY)
        if _NEXT_DAY.search(body):
            return Unreadable("the next working day has no fixed working-time duration; set the limit by hand")
        return Unreadable("no amount of working days or hours found")
    readings: list[PublishedLimit | Unreadable] = [_reading(match) for match in found]
    refused = [r for r in readings if isinstance(r, Unreadable)]
    limits = {r.seconds: r for r in readings if isinstance(r, PublishedLimit)}
    if len(limits) + len({r.reason for r in refused}) > 1:
        shown = ", ".join(repr(m.group(0)) for m in found)
        return Unreadable(f"several time limits ({shown}): the one that applies depends on the case; "
                          "choose it by hand")
    return readings[0]


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u202f", " ")
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text.rstrip(" .;:,").strip()


def _reading(match: re.Match[str]) -> PublishedLimit | Unreadable:
    low, high, unit, working = match.group(1), match.group(2), match.group(3), match.group(4) is not None
    name = _UNIT_NAMES[unit]
    if unit in ("tháng", "năm"):
        return Unreadable(f"{name} are calendar time, not working time; the limit must be in working days "
                          "or hours")
    if not working:
        return Unreadable(f"calendar {name} ({match.group(0)!r}, without 'làm việc'): eiso measures working "
                          "time only, and calendar time counts weekends and holidays")
    amounts = [_amount(low)] + ([_amount(high)] if high is not None else [])
    if any(a is None for a in amounts):
        return Unreadable(f"number not understood in {match.group(0)!r}")
    values = [a for a in amounts if a is not None]
    amount = max(values)
    note = "upper bound of a range" if len(values) > 1 and values[0] != values[1] else ""
    if amount == 0:
        return Unreadable("a zero time limit")
    letter = _UNIT_LETTERS[unit]
    shown = format(amount.normalize(), "f")
    iso = f"PT{shown}{letter}" if letter in ("H", "M") else f"P{shown}{letter}"
    try:
        seconds = parse_working_duration(iso)
    except DurationError as err:
        return Unreadable(str(err))
    return PublishedLimit(format_working_duration(seconds), seconds, note)


def _amount(text: str) -> Decimal | None:
    if text[0].isdigit():
        try:
            return Decimal(text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            return None
    if text == "nửa":
        return Decimal("0.5")
    words = text.split(" ")
    value = _words(words)
    return None if value is None else Decimal(value)


def _words(words: list[str]) -> int | None:
    """Vietnamese numbers from 1 to 99: ``mười``, ``mười lăm``, ``hai mươi``, ``hai mươi mốt``, ``ba mươi tư``."""
    if len(words) == 1:
        if words[0] == "mười":
            return 10
        return _DIGITS.get(words[0]) if words[0] not in ("mốt", "lăm", "tư") else None
    if words[0] == "mười" and len(words) == 2:
        unit = _DIGITS.get(words[1])
        return None if unit is None or words[1] in ("mốt", "năm") else 10 + unit
    if len(words) in (2, 3) and words[1] == "mươi":
        tens = _DIGITS.get(words[0])
        if tens is None or tens < 2 or words[0] in ("mốt", "lăm", "tư"):
            return None
        if len(words) == 2:
            return tens * 10
        unit = _DIGITS.get(words[2])
        return None if unit is None else tens * 10 + unit
    return None
