"""The procedure's directly-follows relation, practice's, and a live case's trace (the pure engine)."""

from __future__ import annotations

from engine.core.conformance import Deviation, DeviationKind, Observed, ProcedureModel, trace_of
from engine.core.practice import END, START, observed_follows, procedure_follows
from tests.conformance.support import PARALLEL, REWORK, SEQUENCE, load
from tests.unit import engine_harness as harness
from tests.unit.engine_harness import calendar, event, receive, vn


def test_the_procedure_lets_steps_follow_in_its_order_both_orders_of_parallel_branches_and_its_loop() -> None:
    assert procedure_follows(ProcedureModel(load(SEQUENCE).definition).net) == {
        (START, "a"), ("a", "b"), ("b", "c"), ("c", END)}
    parallel = procedure_follows(ProcedureModel(load(PARALLEL).definition).net)
    assert {("receive", "consult"), ("receive", "appraise"), ("consult", "appraise"), ("appraise", "consult"),
            ("consult", "approve"), ("appraise", "refuse")} <= parallel
    assert ("receive", "approve") not in parallel and ("approve", "refuse") not in parallel
    assert ("review", "appraise") in procedure_follows(ProcedureModel(load(REWORK).definition).net)


def test_practice_counts_handovers_and_their_working_time() -> None:
    trace = [Observed("a", vn("2026-03-02 09:00"), vn("2026-03-02 08:00")),
             Observed("b", vn("2026-03-02 14:00"), vn("2026-03-02 09:00")),  # 09:00-14:00 less lunch: 3.5 h
             Observed("c", vn("2026-03-03 08:30"), vn("2026-03-02 14:00"))]  # 3 h on Monday, 1 h on Tuesday
    graph = observed_follows([(trace, True), (trace[:2], False)], calendar())
    assert dict(graph.counts) == {(START, "a"): 2, ("a", "b"): 2, ("b", "c"): 1, ("c", END): 1}
    assert graph.seconds == {("a", "b"): [12600, 12600], ("b", "c"): [14400]}
    assert graph.step_seconds == {"a": [3600, 3600], "b": [12600, 12600], "c": [14400]}


def test_a_live_case_trace_is_its_completed_steps_and_a_bypassed_step_is_skipped() -> None:
    run = receive("2026-03-02 08:00", roundtrip=False)
    run.apply(event("step.completed", "2026-03-02 09:00", "receive"))
    run.apply(event("step.completed", "2026-03-03 09:00", "review"))  # appraise bypassed: skipped by the engine
    trace = trace_of(run.case)
    assert [o.step for o in trace] == ["receive", "review"]
    model = ProcedureModel(harness.test_procedure().definition)
    result = model.check(trace, complete=False)
    assert result.deviations == (Deviation(DeviationKind.SKIPPED, "appraise", 1),)
