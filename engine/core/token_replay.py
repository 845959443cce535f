"""Token-based replay of one trace on a procedure's net, as pm4py's token replay does it.

Each activity of the trace fires its visible transition. When it is not enabled, silent transitions are
fired along the shortest silent paths from marked places to its empty input places (at most two levels
deep, pm4py's heuristic); if it is still not enabled, the tokens it lacks are added and counted as
*missing*. An activity the procedure does not have fires nothing. At the end, silent paths towards the
sink are tried; the tokens left beside the final marking are *remaining*, a sink left empty is missing.
``produced`` counts the initial token and every token a firing produced, ``consumed`` every token a
firing consumed and the final token. Fitness = 0.5 (1 - missing/consumed) + 0.5 (1 - remaining/produced);
a trace fits when nothing is missing or remaining.

Each forced firing also records the places that lacked a token, which ``engine.core.conformance`` turns
into skipped or out-of-order steps.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.core.conformance_net import SINK, SOURCE, Net, Transition

__all__ = ["Forced", "Replay", "replay", "silent_paths", "steps_behind"]

Marking = Counter[str]

_MAX_DEPTH = 2  # pm4py's MAX_REC_DEPTH_HIDTRANSENABL
_FINAL_ROUNDS = 5  # pm4py's MAX_IT_FINAL1 and MAX_IT_FINAL2


@dataclass(frozen=True)
class Forced:
    """An activity fired without being enabled: its position in the trace and the places that lacked a token."""

    position: int
    step: str
    places: tuple[str, ...]
    behind: tuple[str, ...]  # the steps that would have put the lacking tokens there (``steps_behind``)


@dataclass
class Replay:
    missing: int = 0
    consumed: int = 0
    remaining: int = 0
    produced: int = 0
    forced: list[Forced] = field(default_factory=list)
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (position, activity) not in the procedure
    left: tuple[str, ...] = ()  # places still marked at the end, beside the sink

    @property
    def fits(self) -> bool:
        return self.missing == 0 and self.remaining == 0

    @property
    def fitness(self) -> float:
        if self.consumed == 0 or self.produced == 0:
            return 1.0
        return 0.5 * (1 - self.missing / self.consumed) + 0.5 * (1 - self.remaining / self.produced)


def silent_paths(net: Net) -> dict[str, dict[str, list[Transition]]]:
    """For each place, the shortest chain of silent transitions leading to each other place."""
    paths: dict[str, dict[str, list[Transition]]] = {}
    for start in sorted(net.places()):
        found: dict[str, list[Transition]] = {}
        queue: deque[tuple[str, list[Transition]]] = deque([(start, [])])
        while queue:
            place, chain = queue.popleft()
            for t in net.consumers(place):
                if not t.silent or t in chain:
                    continue
                for target in t.outputs:
                    if target not in found:
                        found[target] = [*chain, t]
                        queue.append((target, found[target]))
        paths[start] = found
    return paths


class _Replayer:
    def __init__(self, net: Net, paths: dict[str, dict[str, list[Transition]]]):
        self.net, self.paths = net, paths
        self.marking: Marking = Counter({SOURCE: 1})
        self.result = Replay(produced=1)
        self.needs = {name: Counter(t.inputs) for name, t in net.transitions.items()}

    def enabled(self, t: Transition) -> bool:
        m = self.marking
        return all(m[p] >= n for p, n in self.needs[t.name].items())

    def fire(self, t: Transition) -> None:
        for p in t.inputs:
            self.marking[p] -= 1
            if not self.marking[p]:
                del self.marking[p]  # an empty place is no key, as in pm4py's markings
        self.marking.update(t.outputs)
        self.result.consumed += len(t.inputs)
        self.result.produced += len(t.outputs)

    def groups_towards(self, targets: Sequence[str]) -> list[list[Transition]]:
        groups = [self.paths[p1][p2] for p1 in sorted(self.marking) for p2 in sorted(targets)
                  if p2 in self.paths.get(p1, {})]
        return sorted(groups, key=len)

    def lacking(self, t: Transition) -> list[str]:
        need = self.needs[t.name]
        return [p for p in need if self.marking[p] < need[p]]

    def enable(self, t: Transition, depth: int, visited: set[str]) -> None:
        """Fire silent transitions to enable ``t`` (pm4py's ``apply_hidden_trans``)."""
        if depth >= _MAX_DEPTH or t.name in visited:
            return
        visited.add(t.name)
        at_start = Counter(self.marking)
        groups = self.groups_towards(self.lacking(t))
        if not groups:
            return
        self.walk(groups, t, visited)
        if not self.enabled(t):
            for group in self.groups_towards(self.lacking(t)):
                for t4 in group:
                    if t4 is t or t4.name in visited:
                        continue
                    if not self.enabled(t4):
                        self.enable(t4, depth + 1, visited)
                    if self.enabled(t4):
                        self.fire(t4)
                        visited.add(t4.name)
        if not self.enabled(t) and self.marking != at_start:
            self.enable(t, depth + 1, visited)

    def walk(self, groups: list[list[Transition]], t: Transition, visited: set[str]) -> None:
        """pm4py's ``enable_hidden_transitions``: take the groups in turn, firing what is enabled."""
        index = [0] * len(groups)
        z = 0
        while True:
            g = z % len(groups)
            changed = False
            while index[g] < len(groups[g]):
                t3 = groups[g][index[g]]
                if t3 is not t and self.enabled(t3) and t3.name not in visited:
                    self.fire(t3)
                    visited.add(t3.name)
                    changed = True
                index[g] += 1
                if self.enabled(t):
                    break
            if self.enabled(t) or not changed:
                return
            z += 1

    def finish(self) -> None:
        for _ in range(_FINAL_ROUNDS):
            if self.marking[SINK]:
                break
            for group in self.groups_towards([SINK]):
                for t in group:
                    if self.enabled(t):
                        self.fire(t)
                if self.marking[SINK]:
                    break
        if not self.marking[SINK]:
            chains = sorted((self.paths[p][SINK] for p in self.marking if SINK in self.paths.get(p, {})), key=len)
            for _ in range(_FINAL_ROUNDS):
                for chain in chains:
                    for t in chain:
                        if not self.enabled(t):
                            break
                        self.fire(t)
        result = self.result
        result.left = tuple(sorted(p for p in self.marking if p != SINK))
        result.remaining = sum(n for p, n in self.marking.items() if p != SINK) + max(0, self.marking[SINK] - 1)
        result.missing += 0 if self.marking[SINK] else 1
        result.consumed += 1


def replay(net: Net, trace: Sequence[str], paths: dict[str, dict[str, list[Transition]]] | None = None,
           complete: bool = True) -> Replay:
    """Replay the activities (step ids) of one trace; ``paths`` is ``silent_paths(net)``, computed once per net.
    ``complete=False`` replays the beginning of an open case: its end (remaining tokens, the sink) is not judged."""
    run = _Replayer(net, paths if paths is not None else silent_paths(net))
    for position, activity in enumerate(trace):
        t = net.visible(activity)  # a step is one task: one transition per label
        if t is None:
            run.result.unknown.append((position, activity))
            continue
        if not run.enabled(t):
            run.enable(t, 0, set())
        if not run.enabled(t):
            lacking = run.lacking(t)
            behind = steps_behind(net, lacking, run.marking)
            run.result.forced.append(Forced(position, activity, tuple(lacking), tuple(sorted(behind))))
            need = run.needs[t.name]
            for p in lacking:
                run.result.missing += need[p] - run.marking[p]
                run.marking[p] = need[p]
        run.fire(t)
    if complete:
        run.finish()
    return run.result


def steps_behind(net: Net, places: Sequence[str], marking: Marking) -> set[str]:
    """The steps that put a token in ``places``, looking back through silent transitions; behind a silent
    join, only through its inputs that are empty in ``marking`` (the others did their part)."""
    found: set[str] = set()
    seen = set(places)
    todo = list(places)
    while todo:
        for t in net.producers(todo.pop()):
            if t.label is not None:
                found.add(t.label)
                continue
            for p in t.inputs:
                if p not in seen and p != SOURCE and not marking[p]:
                    seen.add(p)
                    todo.append(p)
    return found
