"""eiso's token-based replay agrees with pm4py's (the test-only oracle) on the same logs and models.

pm4py (AGPL-3.0) is imported here only: the runtime never depends on it. Each model is read by pm4py from
the same BPMN file (pm4py.read_bpmn, convert_to_petri_net) and by eiso's loader; pm4py labels transitions
with the task names, eiso with the step ids, so the logs given to pm4py name the steps by their names.
Log fitness must agree within 0.01 and the share of fitting traces exactly.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd  # the test extra has pandas and pm4py: the oracle always runs
import pm4py
import pytest

from engine.core.conformance import ProcedureModel, log_fitness
from tests.conformance.support import INCLUSIVE, PARALLEL, REWORK, SEQUENCE, load

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "bpmn").glob("*.bpmn"))


def pm4py_fitness(path: Path, traces: list[list[str]]) -> tuple[float, float]:
    """pm4py's log fitness and share of fitting traces (0..1) for traces of task names."""
    net, im, fm = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(path)))
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    rows = [{"case:concept:name": f"c{i}", "concept:name": activity, "time:timestamp": start + timedelta(minutes=j)}
            for i, trace in enumerate(traces) for j, activity in enumerate(trace)]
    log = pd.DataFrame(rows)
    result = pm4py.fitness_token_based_replay(log, net, im, fm)
    return float(result["log_fitness"]), float(result["perc_fit_traces"]) / 100


def mutations(paths: list[list[str]], steps: list[str], count: int, seed: int) -> list[list[str]]:
    """The model's own paths, and deviating traces made from them: a step dropped, two swapped, one repeated,
    one unknown activity inserted."""
    rng = random.Random(seed)
    traces = [list(p) for p in paths]
    while len(traces) < count:
        trace = list(rng.choice(paths))
        what = rng.randrange(5)
        i = rng.randrange(len(trace))
        if what == 0 and len(trace) > 1:
            del trace[i]
        elif what == 1 and i + 1 < len(trace):
            trace[i], trace[i + 1] = trace[i + 1], trace[i]
        elif what == 2:
            trace.insert(i, trace[i])
        elif what == 3:
            trace.insert(i, "UNKNOWN")
        else:
            trace.insert(i, rng.choice(steps))
        traces.append(trace)
    return traces


CASES = {
    "rework": (REWORK, [["receive", "appraise", "review", "approve"],
                        ["receive", "appraise", "review", "appraise", "review", "approve"]]),
    "parallel": (PARALLEL, [["receive", "consult", "appraise", "approve", "return_result"],
                            ["receive", "appraise", "consult", "refuse", "return_result"]]),
    "sequence": (SEQUENCE, [["a", "b", "c"]]),
    "inclusive": (INCLUSIVE, [["receive", "police", "approve"], ["receive", "fire", "approve"],
                              ["receive", "police", "fire", "approve"], ["receive", "fire", "police", "approve"]]),
}


def _agree(source: bytes, path: Path, traces: list[list[str]]) -> None:
    loaded = load(source) if source else None
    assert loaded is not None
    model = ProcedureModel(loaded.definition)
    names = {step_id: step.name for step_id, step in loaded.definition.steps.items()}
    ours = log_fitness(model.check(trace) for trace in traces)
    theirs, fitting = pm4py_fitness(path, [[names.get(a, a) for a in trace] for trace in traces])
    assert abs(ours.log_fitness - theirs) <= 0.01, (ours, theirs)
    assert ours.fitting_share == pytest.approx(fitting, abs=1e-12), (ours, fitting)


@pytest.mark.parametrize("name", sorted(CASES))
def test_made_models_agree_with_pm4py(name: str, tmp_path: Path) -> None:
    source, paths = CASES[name]
    path = tmp_path / f"{name}.bpmn"
    path.write_bytes(source)
    steps = list(load(source).definition.steps)
    _agree(source, path, mutations(paths, steps, 200, seed=len(name)))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_procedures_agree_with_pm4py(path: Path) -> None:
    source = path.read_bytes()
    definition = load(source).definition
    steps = list(definition.steps)
    happy = _happy_paths(definition.code, steps)
    _agree(source, path, mutations(happy, steps, 200, seed=7))


def _happy_paths(code: str, steps: list[str]) -> list[list[str]]:
    """A conforming path of each bundled procedure, from its steps as drawn (alternatives left out)."""
    alternatives = {"1.001029": {"sign_refusal"}, "1.009972": {"inspect_site"}}
    main = [s for s in steps if s not in alternatives.get(code, set())]
    out = [main]
    if code == "1.001029":
        out.append(["receive_dossier", "assign", "appraise", "sign_refusal", "register_result", "return_result"])
    if code == "1.009972":
        with_site = list(main)
        with_site.insert(with_site.index("appraise") + 1, "inspect_site")
        out.append(with_site)
    return out
