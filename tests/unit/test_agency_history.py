"""The agency code history (engine.core.agency_history): resolving a code at an instant, and the
histories refused at import (each problem naming its row)."""

from __future__ import annotations

from datetime import datetime

from engine.core.agency_history import AgencyCode, AgencyHistory, check_history

A, B, C, D = "000.00.00.H11", "000.00.00.H10", "000.00.00.H12", "000.00.00.H13"
MERGER = datetime.fromisoformat("2025-07-01T00:00:00+07:00")
LATER = datetime.fromisoformat("2026-01-01T00:00:00+07:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def test_a_closed_code_resolves_to_its_successor_from_its_closing_on() -> None:
    history = AgencyHistory([AgencyCode(A, valid_to=MERGER, successor=B), AgencyCode(B)])
    assert history.resolve(A, at("2025-06-30T23:59:59")) == A  # still valid the instant before
    assert history.resolve(A, at("2025-07-01T00:00:00")) == B  # valid_to is exclusive
    assert history.resolve(B, at("2025-07-01T00:00:00")) == B
    assert history.current(A) == B
    assert history.resolve(D, LATER) == D  # not in the history: as written


def test_a_chain_is_followed_as_far_as_the_instant_allows() -> None:
    history = AgencyHistory([AgencyCode(A, valid_to=MERGER, successor=B),
                             AgencyCode(B, valid_to=LATER, successor=C), AgencyCode(C)])
    assert history.resolve(A, at("2025-08-01T08:00:00")) == B  # B not yet closed then
    assert history.resolve(A, at("2026-01-02T08:00:00")) == C
    assert history.current(A) == C
    assert history.chain(A) == [A, B, C]


def test_a_closed_code_without_successor_stays() -> None:
    history = AgencyHistory([AgencyCode(A, valid_to=MERGER)])
    assert history.resolve(A, LATER) == A


def test_a_good_history_has_no_problem() -> None:
    assert check_history([AgencyCode(A, valid_to=MERGER, successor=B, row=2), AgencyCode(B, row=3),
                          AgencyCode(C, valid_to=MERGER, successor=B, row=4)]) == []


def test_a_cycle_is_refused_naming_the_rows() -> None:
    problems = check_history([AgencyCode(A, valid_to=MERGER, successor=B, row=2),
                              AgencyCode(B, valid_to=LATER, successor=A, row=3)])
    assert [p.row for p in problems] == [2, 3]
    assert "cycle" in str(problems[0]) and str(problems[0]).startswith(f"row 2: {A}: ")


def test_a_code_naming_itself_is_refused() -> None:
    (problem,) = check_history([AgencyCode(A, valid_to=MERGER, successor=A, row=5)])
    assert (problem.row, problem.problem) == (5, "names itself as its successor")


def test_a_successor_closed_before_its_predecessor_is_refused() -> None:
    problems = check_history([AgencyCode(A, valid_to=LATER, successor=B, row=2),
                              AgencyCode(B, valid_to=MERGER, successor=C, row=3), AgencyCode(C, row=4)])
    assert [(p.row, p.code) for p in problems] == [(2, A)]
    assert "closes" in problems[0].problem and "before this code does" in problems[0].problem


def test_a_successor_opened_after_the_closing_is_refused() -> None:
    problems = check_history([AgencyCode(A, valid_to=MERGER, successor=B, row=2),
                              AgencyCode(B, valid_from=LATER, row=3)])
    assert [(p.row, p.code) for p in problems] == [(2, A)]


def test_other_refusals() -> None:
    problems = check_history([AgencyCode(A, successor=B, row=2),  # a successor but never closes
                              AgencyCode(B, valid_from=LATER, valid_to=MERGER, row=3),  # closes before it opens
                              AgencyCode(B, row=4)])  # listed twice
    assert [p.row for p in problems] == [4, 2, 3]
    assert "listed twice (also row 3)" in problems[0].problem
    assert "no valid_to" in problems[1].problem
    assert "is not after valid_from" in problems[2].problem
