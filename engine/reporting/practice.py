"""Practice against the documented procedure, for the management review (issue 14, item 3).

For one procedure and the cases closed in a period (``engine.reporting.conformance.case_traces``): the
directly-follows graph of what happened (``engine.core.practice``), each handover with its cases and
median working hours, laid beside the procedure version most of those cases followed, and named:

* ``skipped_steps``: steps of the procedure that cases skipped (``step_skipped`` deviations), with how many;
* ``handovers_not_in_procedure``: handovers practice has that the procedure does not allow;
* ``allowance_exceeded``: steps whose allowance is routinely exceeded, that is whose median working time
  (activation to completion, legal calendar) is over the allowance, with the median and 90th percentile as
  multiples of the allowance: the input to revising the procedure.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from engine.core.calendar import Calendar
from engine.core.conformance import DeviationKind
from engine.core.practice import END, START, observed_follows, procedure_follows
from engine.reporting.conformance import ConformanceTables, Models, Versions, case_traces
from engine.reporting.period import Period
from engine.reporting.steps import hours, spread

__all__ = ["practice_report"]


def practice_report(session: Session, tables: ConformanceTables, where: ColumnElement[bool], period: Period,
                    calendar: Calendar, catalog: Versions, code: str) -> dict[str, Any] | None:
    """The comparison for procedure ``code``, or None when no case of it closed in the period."""
    cases = list(case_traces(session, tables, where, period, calendar))
    cases = [c for c in cases if c.procedure == code]
    if not cases:
        return None
    version, scope = Counter((c.version, c.scope) for c in cases).most_common(1)[0][0]
    models = Models(catalog)
    model = models.model(code, version, scope)
    definition = model.definition
    allowed = procedure_follows(model.net)
    skipped: Counter[str] = Counter()
    for case in cases:
        for deviation in models.replayed(case).deviations:
            if deviation.kind == DeviationKind.SKIPPED:
                skipped.update(set(deviation.step.split(" | ")))
    graph = observed_follows(((c.trace(), c.complete) for c in cases), calendar)
    done = Counter(step for c in cases for step in {o.step for o in c.trace()})
    steps = [_step(step, done[step_id], skipped[step_id], graph.step_seconds.get(step_id, []))
             for step_id, step in definition.steps.items()]
    edges = [{"from": a, "to": b, "cases": n, "in_procedure": (a, b) in allowed,
              "median_hours": _median_hours(graph.seconds.get((a, b), []))}
             for (a, b), n in sorted(graph.counts.items(), key=lambda x: (-x[1], x[0]))]
    return {
        "procedure": code, "version": version, "scope": scope, "name": definition.name, "cases": len(cases),
        "steps": steps,
        "edges": edges,
        "procedure_edges": [{"from": a, "to": b, "cases": graph.counts.get((a, b), 0)} for a, b in sorted(allowed)],
        "skipped_steps": [{"step": s["step"], "cases": s["skipped"]} for s in steps if s["skipped"]],
        "handovers_not_in_procedure": [{"from": e["from"], "to": e["to"], "cases": e["cases"]}
                                       for e in edges if not e["in_procedure"]],
        "allowance_exceeded": [{"step": s["step"], "median_ratio": s["median_ratio"], "p90_ratio": s["p90_ratio"]}
                               for s in steps if s["routinely_exceeded"]],
        "start": START, "end": END,
    }


def _step(step: Any, done: int, skipped: int, seconds: list[int]) -> dict[str, Any]:
    allowance = step.allowance_seconds
    median = p90 = None
    if seconds:
        median, p90 = spread(sorted(seconds))

    def ratio(value: float | None) -> float | None:
        return None if value is None or not allowance else round(value / allowance, 2)

    return {"step": step.step_id, "name": step.name, "unit": step.unit,
            "allowance_hours": None if allowance is None else hours(allowance), "cases": done, "skipped": skipped,
            "median_hours": None if median is None else hours(median), "p90_hours": None if p90 is None else hours(p90),
            "median_ratio": ratio(median), "p90_ratio": ratio(p90),
            "routinely_exceeded": bool(allowance and median is not None and median > allowance)}


def _median_hours(seconds: list[int]) -> float | None:
    return hours(spread(sorted(seconds))[0]) if seconds else None
