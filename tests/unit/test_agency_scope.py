"""The agency rule's one home (engine.core.agency): which deployment a case follows, and scope keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.core.agency import EVERY_AGENCY, covers, depth, followed, scope_depth, scope_key

T1, T2, T3 = (datetime(2026, 3, day, 1, 0, tzinfo=UTC) for day in (2, 3, 4))
DEPARTMENT, UNIT, PART = "000.00.12.H10", "000.31.12.H10", "001.31.12.H10"


def test_the_rule_lives_in_the_core_and_the_api_scope_uses_it() -> None:
    from engine.api import scope

    assert scope.covers is covers
    assert covers(DEPARTMENT, PART) and covers(UNIT, PART) and not covers(UNIT, DEPARTMENT)
    assert (depth(DEPARTMENT), depth(UNIT), depth(PART)) == (2, 3, 4)


def test_scope_keys_are_canonical() -> None:
    assert scope_key([]) == EVERY_AGENCY
    assert scope_key([UNIT, DEPARTMENT, UNIT]) == DEPARTMENT  # the unit lies below the department
    assert scope_key(["000.00.13.H10", DEPARTMENT]) == "000.00.12.H10,000.00.13.H10"
    assert scope_depth(EVERY_AGENCY, PART) == 0
    assert scope_depth("000.00.13.H10,000.31.12.H10", PART) == 3
    assert scope_depth("000.00.13.H10", PART) is None


@pytest.mark.parametrize(("agency", "at", "expected"), [
    (PART, T3, (UNIT, 2)),  # the narrowest covering scope, its newest version
    (PART, T2, (DEPARTMENT, 1)),  # the unit's versions were not in force yet
    ("000.45.12.H10", T3, (DEPARTMENT, 1)),
    ("000.00.13.H10", T3, (EVERY_AGENCY, 1)),
    (None, T3, (EVERY_AGENCY, 1)),  # without an agency, every-agency versions only
    (PART, datetime(2026, 1, 1, tzinfo=UTC), (UNIT, 1)),  # a backfill: the most specific scope's first version
])
def test_a_case_follows_the_most_specific_deployment_in_force(agency: str | None, at: datetime,
                                                              expected: tuple[str, int]) -> None:
    versions = [(EVERY_AGENCY, 1, T1), (DEPARTMENT, 1, T2), (UNIT, 1, T3), (UNIT, 2, T3)]
    assert followed(versions, agency, at) == expected
    assert followed(list(reversed(versions)), agency, at) == expected  # whatever the order rows come in


def test_ties_go_to_the_newest_deployment_then_the_smaller_key() -> None:
    both = "000.00.12.H10,000.00.13.H10"
    assert followed([(DEPARTMENT, 1, T1), (both, 1, T2)], UNIT, T3) == (both, 1)
    assert followed([(DEPARTMENT, 1, T2), (both, 1, T1)], UNIT, T3) == (DEPARTMENT, 1)
    assert followed([(both, 1, T2), (DEPARTMENT, 1, T2)], UNIT, T3) == (DEPARTMENT, 1)


def test_no_covering_version_is_none() -> None:
    assert followed([("000.00.13.H10", 1, T1)], UNIT, T3) is None
    assert followed([], UNIT, T3) is None
