"""Fitness and deviations of small traces, computed by hand on the nets the procedures make.

The sequence a -> b -> c is, once reduced, the net source -[a]-> p_b -[b]-> p_c -[c]-> sink: every firing
consumes one token and produces one; the initial token counts as produced, the final one as consumed.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.core.calendar import WorkingCalendar
from engine.core.conformance import Deviation, DeviationKind, Observed, ProcedureModel, log_fitness, variants
from tests.conformance.support import PARALLEL, REWORK, SEQUENCE, load

SKIPPED, OUT_OF_ORDER = DeviationKind.SKIPPED, DeviationKind.OUT_OF_ORDER
REPEATED, UNKNOWN = DeviationKind.REPEATED, DeviationKind.NOT_IN_PROCEDURE


@pytest.fixture(scope="module")
def sequence() -> ProcedureModel:
    return ProcedureModel(load(SEQUENCE).definition)


def test_a_conforming_trace_fits_with_every_token_counted(sequence: ProcedureModel) -> None:
    result = sequence.check(["a", "b", "c"])
    assert (result.fitness, result.fits, result.conforming) == (1.0, True, True)
    assert (result.missing, result.consumed, result.remaining, result.produced) == (0, 4, 0, 4)
    assert result.deviations == ()


def test_a_skipped_step_misses_one_token_and_leaves_one(sequence: ProcedureModel) -> None:
    # c fired without b: 1 missing; b's token left: 1 remaining; produced 1+1+1 = 3, consumed 1+1+1 = 3
    result = sequence.check(["a", "c"])
    assert (result.missing, result.consumed, result.remaining, result.produced) == (1, 3, 1, 3)
    assert result.fitness == pytest.approx(0.5 * (1 - 1 / 3) + 0.5 * (1 - 1 / 3))
    assert result.deviations == (Deviation(SKIPPED, "b", 1),)
    assert not result.fits


def test_a_step_done_before_its_predecessor_is_out_of_order(sequence: ProcedureModel) -> None:
    # c forced (1 missing), then b puts a token before c that nothing takes (1 remaining); 4 produced, 4 consumed
    result = sequence.check(["a", "c", "b"])
    assert (result.missing, result.consumed, result.remaining, result.produced) == (1, 4, 1, 4)
    assert result.fitness == pytest.approx(0.75)
    assert result.deviations == (Deviation(OUT_OF_ORDER, "c", 1),)


def test_a_repeated_step_is_rework(sequence: ProcedureModel) -> None:
    # the second b lacks a's token (1 missing) and leaves a second token before c (1 remaining); 5 and 5
    result = sequence.check(["a", "b", "b", "c"])
    assert (result.missing, result.consumed, result.remaining, result.produced) == (1, 5, 1, 5)
    assert result.fitness == pytest.approx(0.8)
    assert result.deviations == (Deviation(REPEATED, "b", 2),)


def test_an_activity_not_in_the_procedure_fits_but_does_not_conform(sequence: ProcedureModel) -> None:
    result = sequence.check(["a", "photocopy", "b", "c"])
    assert (result.fitness, result.fits, result.conforming) == (1.0, True, False)
    assert result.deviations == (Deviation(UNKNOWN, "photocopy", 1),)
    assert result.counts() == {"step_skipped": 0, "step_out_of_order": 0, "step_repeated": 0,
                               "activity_not_in_procedure": 1}


def test_a_finished_case_that_stopped_short_skipped_the_rest(sequence: ProcedureModel) -> None:
    # the sink never marked: 1 missing; c's token left: 1 remaining; produced 3, consumed 2 + the final 1
    result = sequence.check(["a", "b"])
    assert (result.missing, result.consumed, result.remaining, result.produced) == (1, 3, 1, 3)
    assert result.deviations == (Deviation(SKIPPED, "c", None),)


def test_an_open_case_is_judged_on_what_it_did_so_far(sequence: ProcedureModel) -> None:
    result = sequence.check(["a", "b"], complete=False)
    assert (result.fitness, result.fits, result.deviations) == (1.0, True, ())


def test_a_rework_loop_drawn_in_the_procedure_fits_and_its_time_is_counted() -> None:
    model = ProcedureModel(load(REWORK).definition)
    at = datetime.fromisoformat
    trace = [
        Observed("receive", at("2026-03-06T09:00:00+07:00")),
        Observed("appraise", at("2026-03-06T14:00:00+07:00")),
        Observed("review", at("2026-03-06T16:00:00+07:00")),
        # sent back on Friday 16:00, appraised again by Monday 09:30: 1 h on Friday + 2 h on Monday
        Observed("appraise", at("2026-03-09T09:30:00+07:00"), at("2026-03-06T16:00:00+07:00")),
        # reviewed again from 09:30 to 14:00, lunch 11:30-13:00 excluded: 3 h
        Observed("review", at("2026-03-09T14:00:00+07:00"), at("2026-03-09T09:30:00+07:00")),
        Observed("approve", at("2026-03-09T15:00:00+07:00")),
    ]
    result = model.check(trace, WorkingCalendar())
    assert (result.fitness, result.fits) == (1.0, True)
    assert result.deviations == (Deviation(REPEATED, "appraise", 3), Deviation(REPEATED, "review", 4))
    assert result.rework_seconds == 6 * 3600


def test_parallel_branches_in_either_order_fit_and_a_missing_branch_is_skipped() -> None:
    model = ProcedureModel(load(PARALLEL).definition)
    assert model.check(["receive", "appraise", "consult", "approve", "return_result"]).conforming
    assert model.check(["receive", "consult", "appraise", "refuse", "return_result"]).conforming
    result = model.check(["receive", "appraise", "approve", "return_result"])
    assert result.deviations == (Deviation(SKIPPED, "consult", 2),)
    both = model.check(["receive", "appraise", "consult", "approve", "refuse", "return_result"])
    assert both.deviations == (Deviation(OUT_OF_ORDER, "refuse", 4),)


def test_log_fitness_sums_the_tokens_of_every_trace(sequence: ProcedureModel) -> None:
    results = [sequence.check(t) for t in (["a", "b", "c"], ["a", "c"], ["a", "c", "b"])]
    # missing 0+1+1 of consumed 4+3+4; remaining 0+1+1 of produced 4+3+4
    fitness = log_fitness(results)
    assert fitness.log_fitness == pytest.approx(0.5 * (1 - 2 / 11) + 0.5 * (1 - 2 / 11))
    assert (fitness.traces, fitness.fitting) == (3, 1)
    assert fitness.fitting_share == pytest.approx(1 / 3)


def test_variants_are_counted_with_their_median_working_time() -> None:
    found = variants([(["a", "b"], 10), (["a", "c"], 5), (["a", "b"], 30), (["a", "b"], 20), (["a", "c"], None)])
    assert [(v.path, v.count, v.median_working_seconds) for v in found] == [
        (("a", "b"), 3, 20), (("a", "c"), 2, 5)]
