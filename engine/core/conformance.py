"""Conformance of a case's observed steps to its procedure: fitness, deviations, rework, variants.

The fitness is token-based replay on the procedure's Petri net (``engine.core.token_replay`` on
``engine.core.conformance_net``), the measure pm4py computes: per case 0.5 (1 - missing/consumed) +
0.5 (1 - remaining/produced); per log the same over the log's summed tokens, beside the share of fitting
cases. A case's trace is its completed steps in the order they completed (``trace_of``), or any list of
step ids (a replayed history, a test).

Deviations, by kind, read from the replay:

* ``activity_not_in_procedure``: an activity the procedure has no step for;
* ``step_repeated`` (rework): a step done again after its first completion; its working time is rework;
* ``step_out_of_order``: a step done before a step that should precede it, which came later;
* ``step_skipped``: a step that should have come (before a step done, or before the end of a finished
  case) and never did. Where the procedure offered a choice, the alternatives are named together (``a | b``).

A case *conforms* when it fits and has no deviation.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from engine.core.calendar import Calendar
from engine.core.case import Case
from engine.core.conformance_net import Net, procedure_net
from engine.core.procedure import ProcedureDefinition
from engine.core.token_replay import Replay, replay, silent_paths

__all__ = ["CaseConformance", "Deviation", "DeviationKind", "LogFitness", "Observed", "ProcedureModel", "Variant",
           "log_fitness", "rework_seconds", "trace_of", "variants"]


class DeviationKind(StrEnum):
    SKIPPED = "step_skipped"
    OUT_OF_ORDER = "step_out_of_order"
    REPEATED = "step_repeated"
    NOT_IN_PROCEDURE = "activity_not_in_procedure"


@dataclass(frozen=True)
class Observed:
    """One step as it happened: its id (or the log's activity), when it was handed over to, when completed."""

    step: str
    completed_at: datetime | None = None
    activated_at: datetime | None = None


@dataclass(frozen=True)
class Deviation:
    kind: DeviationKind
    step: str
    position: int | None  # in the trace; None for a step the finished case never did


@dataclass(frozen=True)
class CaseConformance:
    fitness: float
    fits: bool
    missing: int
    consumed: int
    remaining: int
    produced: int
    deviations: tuple[Deviation, ...]
    rework_seconds: int

    @property
    def conforming(self) -> bool:
        return self.fits and not self.deviations

    def counts(self) -> dict[str, int]:
        """Deviations by kind, every kind present (zeros included)."""
        found = Counter(d.kind for d in self.deviations)
        return {kind.value: found[kind] for kind in DeviationKind}


def trace_of(case: Case) -> list[Observed]:
    """A case's completed steps (neither skipped nor abandoned) in the order they completed."""
    runs = sorted((r for r in case.steps if r.completed_at is not None and not r.skipped),
                  key=lambda r: (r.completed_at, r.seq))
    return [Observed(r.step, r.completed_at, r.activated_at) for r in runs]


class ProcedureModel:
    """One procedure version's net, built once and replayed on as many traces as needed."""

    def __init__(self, definition: ProcedureDefinition):
        self.definition = definition
        self.net: Net = procedure_net(definition)
        self._paths = silent_paths(self.net)

    def replay(self, steps: Sequence[str], complete: bool = True) -> Replay:
        return replay(self.net, steps, self._paths, complete=complete)

    def check(self, trace: Sequence[Observed | str], calendar: Calendar | None = None,
              complete: bool = True) -> CaseConformance:
        """The conformance of one trace; ``complete=False`` for a case still open (its end is not judged)."""
        observed = [x if isinstance(x, Observed) else Observed(x) for x in trace]
        steps = [x.step for x in observed]
        result = self.replay(steps, complete)
        deviations = [Deviation(DeviationKind.NOT_IN_PROCEDURE, a, i) for i, a in result.unknown]
        repeats = {i for i, step in enumerate(steps) if step in steps[:i] and step in self.definition.steps}
        deviations += [Deviation(DeviationKind.REPEATED, steps[i], i) for i in sorted(repeats)]
        for forced in result.forced:
            if forced.position in repeats:
                continue
            before = set(steps[:forced.position])
            candidates = list(forced.behind)
            if any(s in steps[forced.position + 1:] for s in candidates):
                deviations.append(Deviation(DeviationKind.OUT_OF_ORDER, forced.step, forced.position))
            elif candidates and not before & set(candidates):
                deviations.append(Deviation(DeviationKind.SKIPPED, " | ".join(candidates), forced.position))
            else:  # what should lead to it was done, and led elsewhere: not its turn
                deviations.append(Deviation(DeviationKind.OUT_OF_ORDER, forced.step, forced.position))
        if complete:
            for place in result.left:
                ahead = sorted(self._ahead(place))
                skipped = {s for d in deviations if d.kind == DeviationKind.SKIPPED for s in d.step.split(" | ")}
                if ahead and not set(ahead) & (set(steps) | skipped):
                    deviations.append(Deviation(DeviationKind.SKIPPED, " | ".join(ahead), None))
        found = CaseConformance(
            fitness=result.fitness, fits=result.fits, missing=result.missing, consumed=result.consumed,
            remaining=result.remaining, produced=result.produced, deviations=tuple(dict.fromkeys(deviations)),
            rework_seconds=0)
        return replace(found, rework_seconds=rework_seconds(observed, found, calendar))

    def _ahead(self, place: str) -> set[str]:
        """The steps a token left in ``place`` was waiting for, looking on through silent transitions."""
        found: set[str] = set()
        seen, todo = {place}, [place]
        while todo:
            for t in self.net.consumers(todo.pop()):
                if t.label is not None:
                    found.add(t.label)
                    continue
                for p in t.outputs:
                    if p not in seen:
                        seen.add(p)
                        todo.append(p)
        return found


def rework_seconds(observed: Sequence[Observed], result: CaseConformance, calendar: Calendar | None) -> int:
    """The working time of every repetition in ``result``: from its handover (or the completion of the step
    before it) to its completion, by the legal calendar; 0 without a calendar or times."""
    if calendar is None:
        return 0
    total = 0
    repeats = [d.position for d in result.deviations if d.kind == DeviationKind.REPEATED]
    for i in sorted(i for i in repeats if i is not None):
        done = observed[i].completed_at
        began = observed[i].activated_at or (observed[i - 1].completed_at if i else None)
        if done is not None and began is not None and began < done:
            total += calendar.between(began, done)
    return total


@dataclass(frozen=True)
class LogFitness:
    traces: int
    fitting: int
    log_fitness: float  # 0.5 (1 - sum missing / sum consumed) + 0.5 (1 - sum remaining / sum produced)
    average_fitness: float
    fitting_share: float  # fitting / traces

    @property
    def conforming_share(self) -> float:
        return self.fitting_share


def log_fitness(results: Iterable[CaseConformance]) -> LogFitness:
    """The log's fitness as pm4py's token-based replay evaluation computes it."""
    items = list(results)
    if not items:
        return LogFitness(0, 0, 1.0, 1.0, 0.0)
    m, c = sum(r.missing for r in items), sum(r.consumed for r in items)
    rem, p = sum(r.remaining for r in items), sum(r.produced for r in items)
    fitting = sum(r.fits for r in items)
    return LogFitness(traces=len(items), fitting=fitting,
                      log_fitness=0.5 * (1 - m / c) + 0.5 * (1 - rem / p) if c and p else 1.0,
                      average_fitness=sum(r.fitness for r in items) / len(items),
                      fitting_share=fitting / len(items))


@dataclass(frozen=True)
class Variant:
    path: tuple[str, ...]
    count: int
    median_working_seconds: float | None


def variants(paths: Iterable[tuple[Sequence[str], int | None]]) -> list[Variant]:
    """Distinct paths (step sequences) with their counts and the median working time of their cases,
    most frequent first (ties by path); ``paths`` yields each case's steps and working seconds (or None)."""
    times: dict[tuple[str, ...], list[int]] = {}
    counts: Counter[tuple[str, ...]] = Counter()
    for path, seconds in paths:
        key = tuple(path)
        counts[key] += 1
        if seconds is not None:
            times.setdefault(key, []).append(seconds)
    return [Variant(path, n, statistics.median(times[path]) if times.get(path) else None)
            for path, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

