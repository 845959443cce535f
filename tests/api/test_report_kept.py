"""A report that was slow to count is kept for the same question a while; a quick one never is."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import count

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from engine.api.reporting.kept import Kept


class Always(Kept):
    SLOW = 0.0  # every answer counts as slow: kept


class Never(Kept):
    SLOW = float("inf")


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    with Session(engine) as s:
        yield s
    engine.dispose()


def answers() -> count[int]:
    return count(1)


def test_a_slow_answer_is_given_again_for_the_same_question_only(session: Session) -> None:
    kept, numbers = Always(), answers()
    assert kept.get(session, ("report", "admin"), lambda s: next(numbers)) == 1
    assert kept.get(session, ("report", "admin"), lambda s: next(numbers)) == 1
    assert kept.get(session, ("report", "a commune"), lambda s: next(numbers)) == 2  # another scope counts


def test_a_quick_answer_is_counted_every_time(session: Session) -> None:
    kept, numbers = Never(), answers()
    assert [kept.get(session, "report", lambda s: next(numbers)) for _ in range(3)] == [1, 2, 3]


def test_an_old_answer_is_given_while_it_is_counted_again_in_the_background(session: Session) -> None:
    class Old(Always):
        TTL = 0.0  # old at once, still given (STALE is minutes)

    kept, numbers = Old(), answers()
    seen: list[bool] = []

    def counting(s: Session) -> int:
        seen.append(isinstance(s, Session) and s is not session)
        return next(numbers)

    assert kept.get(session, "report", counting) == 1
    assert kept.get(session, "report", counting) == 1  # the kept answer at once; 2 is being counted
    for thread in threading.enumerate():
        if thread.name == "report-recount":
            thread.join()
    assert kept.get(session, "report", counting) == 2
    for thread in threading.enumerate():
        if thread.name == "report-recount":
            thread.join()
    assert seen[:2] == [False, True]  # the background count had a session of its own


def test_an_answer_too_old_is_counted_again_by_the_request(session: Session) -> None:
    class Expired(Always):
        STALE = 0.0

    kept, numbers = Expired(), answers()
    assert [kept.get(session, "report", lambda s: next(numbers)) for _ in range(2)] == [1, 2]
