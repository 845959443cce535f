"""engine.core.published_limit: the national database's "Thời hạn giải quyết" read as working time.

Every expected value is worked out by hand: 1 working day = 8 h = 28 800 s, 1 week = 5 days.
"""

from __future__ import annotations

import pytest

from engine.core.published_limit import SAME_WORKING_DAY, PublishedLimit, Unreadable, parse_published_limit

DAY = 28_800
HOUR = 3_600

READ = [
    # (published text, canonical duration, working seconds, note)
    ("10 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ", "P10D", 10 * DAY, ""),
    ("03 ngày làm việc", "P3D", 3 * DAY, ""),
    ("3 ngày làm việc", "P3D", 3 * DAY, ""),
    ("003 ngày làm việc", "P3D", 3 * DAY, ""),
    ("05 giờ làm việc", "PT5H", 5 * HOUR, ""),
    ("04 giờ làm việc kể từ khi nhận đủ hồ sơ", "PT4H", 4 * HOUR, ""),
    ("0,5 ngày làm việc", "PT4H", 4 * HOUR, ""),
    ("0.5 ngày làm việc", "PT4H", 4 * HOUR, ""),
    ("1,5 ngày làm việc", "P1DT4H", DAY + 4 * HOUR, ""),
    ("0,25 ngày làm việc", "PT2H", 2 * HOUR, ""),
    ("Không quá 20 ngày làm việc", "P20D", 20 * DAY, ""),
    ("Tối đa 07 ngày làm việc", "P7D", 7 * DAY, ""),
    ("Trong thời hạn 15 ngày làm việc kể từ ngày nhận được hồ sơ hợp lệ", "P15D", 15 * DAY, ""),
    ("Trong vòng 12 ngày làm việc", "P12D", 12 * DAY, ""),
    ("07 ngày làm việc (trong đó: 03 ngày tại UBND cấp xã, 04 ngày tại Sở)", "P7D", 7 * DAY, ""),
    ("07 ngày làm việc, trong đó: 03 ngày tại UBND cấp xã, 04 ngày tại Sở", "P7D", 7 * DAY, ""),
    ("20 ngày làm việc (kể từ ngày nhận đủ hồ sơ (bản chính) hợp lệ)", "P20D", 20 * DAY, ""),
    ("05 - 07 ngày làm việc", "P7D", 7 * DAY, "upper bound of a range"),
    ("05-07 ngày làm việc", "P7D", 7 * DAY, "upper bound of a range"),
    ("Từ 05 đến 07 ngày làm việc", "P7D", 7 * DAY, "upper bound of a range"),
    ("10 – 15 ngày làm việc", "P15D", 15 * DAY, "upper bound of a range"),
    ("05 - 05 ngày làm việc", "P5D", 5 * DAY, ""),
    ("10 NGÀY LÀM VIỆC", "P10D", 10 * DAY, ""),
    ("10 Ngày Làm Việc.", "P10D", 10 * DAY, ""),
    ("  10   ngày    làm việc  ", "P10D", 10 * DAY, ""),
    ("10\u00a0ngày\u00a0làm\u00a0việc", "P10D", 10 * DAY, ""),
    ("10 nga\u0300y la\u0300m vie\u0323\u0302c", "P10D", 10 * DAY, ""),  # decomposed (NFD) accents
    ("10ngày làm việc", "P10D", 10 * DAY, ""),
    ("10 ngày làm việc;", "P10D", 10 * DAY, ""),
    ("mười ngày làm việc", "P10D", 10 * DAY, ""),
    ("Mười lăm ngày làm việc", "P15D", 15 * DAY, ""),
    ("năm ngày làm việc", "P5D", 5 * DAY, ""),
    ("hai mươi ngày làm việc", "P20D", 20 * DAY, ""),
    ("hai mươi mốt ngày làm việc", "P21D", 21 * DAY, ""),
    ("ba mươi tư ngày làm việc", "P34D", 34 * DAY, ""),
    ("nửa ngày làm việc", "PT4H", 4 * HOUR, ""),
    ("02 tuần làm việc", "P10D", 10 * DAY, ""),
    ("30 phút làm việc", "PT30M", 30 * 60, ""),
    ("40 giờ làm việc", "P5D", 5 * DAY, ""),
    ("10 ngày làm việc; 10 ngày làm việc đối với hồ sơ nộp trực tuyến", "P10D", 10 * DAY, ""),
    ("10 ngày làm việc kể từ ngày 01/7/2025", "P10D", 10 * DAY, ""),
    ("Trong ngày làm việc", "P1D", DAY, SAME_WORKING_DAY),
    ("Trong ngày", "P1D", DAY, SAME_WORKING_DAY),
    ("Ngay trong ngày", "P1D", DAY, SAME_WORKING_DAY),
    ("Trong cùng ngày làm việc", "P1D", DAY, SAME_WORKING_DAY),
    ("Giải quyết ngay", "P1D", DAY, SAME_WORKING_DAY),
    ("Trả kết quả ngay khi nhận đủ hồ sơ", "P1D", DAY, SAME_WORKING_DAY),
    ("Ngay sau khi nhận đủ hồ sơ hợp lệ", "P1D", DAY, SAME_WORKING_DAY),
    ("Ngay trong ngày tiếp nhận hồ sơ; trường hợp nhận hồ sơ sau 15 giờ mà không giải quyết được ngay thì "
     "trả kết quả trong ngày làm việc tiếp theo", "P1D", DAY, SAME_WORKING_DAY),
    ("Trong ngày; nhận hồ sơ sau 15h thì trả kết quả trong ngày làm việc tiếp theo", "P1D", DAY, SAME_WORKING_DAY),
    ("1250 ngày làm việc", "P1250D", 1250 * DAY, ""),
]

REFUSED = [
    # (published text, a word of the reason)
    ("15 ngày", "calendar days"),
    ("30 ngày kể từ ngày nhận đủ hồ sơ", "calendar days"),
    ("24 giờ", "calendar hours"),
    ("02 tuần", "calendar weeks"),
    ("01 tháng", "months are calendar time"),
    ("03 tháng kể từ ngày nhận đủ hồ sơ", "months are calendar time"),
    ("01 năm", "years are calendar time"),
    ("05 ngày làm việc; trường hợp phải xác minh thì 10 ngày làm việc", "several time limits"),
    ("20 ngày làm việc đối với cấp mới; 15 ngày đối với cấp lại", "several time limits"),
    ("Trong ngày làm việc tiếp theo", "next working day"),
    ("Ngày làm việc tiếp theo", "next working day"),
    ("", "no time limit given"),
    ("   ", "no time limit given"),
    ("Không quy định", "no time limit published"),
    ("Không", "no time limit published"),
    ("Theo quy định", "no time limit published"),
    ("0 ngày làm việc", "zero"),
    ("1251 ngày làm việc", "longer than"),
    ("9" * 60 + " ngày làm việc", "characters long"),
    ("mười mười ngày làm việc", "number not understood"),
    ("Theo thỏa thuận", "no amount"),
]


@pytest.mark.parametrize(("text", "duration", "seconds", "note"), READ)
def test_read_as_working_time(text: str, duration: str, seconds: int, note: str) -> None:
    assert parse_published_limit(text) == PublishedLimit(duration, seconds, note)


@pytest.mark.parametrize(("text", "why"), REFUSED)
def test_refused_with_a_reason(text: str, why: str) -> None:
    result = parse_published_limit(text)
    assert isinstance(result, Unreadable), result
    assert why in result.reason


def test_at_least_forty_distinct_phrasings() -> None:
    assert len({text for text, *_ in READ} | {text for text, _ in REFUSED}) >= 40


def test_not_text() -> None:
    assert isinstance(parse_published_limit(10), Unreadable)  # type: ignore[arg-type]
