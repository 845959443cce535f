"""Directly-follows relations: the procedure's (which step may hand over to which) and practice's (which did).

The procedure's relation is read from its net's reachable markings (``engine.core.conformance_net``): step b
directly follows step a when b can fire after a with only silent transitions between them; parallel
branches give both orders, a rework loop its way back. ``START`` and ``END`` stand for the case's
receipt and its end. Practice's relation counts each pair of consecutive steps in the cases' traces, with
the working time from one step's completion to the next's (the time the handover took to be done).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from engine.core.calendar import Calendar
from engine.core.conformance import Observed
from engine.core.conformance_net import SINK, SOURCE, Net

__all__ = ["END", "MAX_MARKINGS", "START", "FollowsGraph", "observed_follows", "procedure_follows"]

START = "START"
END = "END"
MAX_MARKINGS = 20_000  # a procedure of a few dozen steps reaches far fewer; a bound keeps the walk finite

Marking = tuple[tuple[str, int], ...]


def procedure_follows(net: Net) -> set[tuple[str, str]]:
    """The pairs (a, b) of steps (``START``, ``END`` included) the procedure lets follow each other directly."""
    start: Marking = ((SOURCE, 1),)
    seen = {(start, START)}
    queue = deque(seen)
    pairs: set[tuple[str, str]] = set()
    while queue and len(seen) < MAX_MARKINGS:
        marking, last = queue.popleft()
        tokens = Counter(dict(marking))
        if tokens[SINK]:
            pairs.add((last, END))
            continue
        for t in net.transitions.values():
            if any(tokens[p] < n for p, n in Counter(t.inputs).items()):
                continue
            after = tokens - Counter(t.inputs) + Counter(t.outputs)
            following = last if t.label is None else t.label
            if t.label is not None:
                pairs.add((last, t.label))
            state = (tuple(sorted(after.items())), following)
            if state not in seen:
                seen.add(state)
                queue.append(state)
    return pairs


@dataclass
class FollowsGraph:
    """Practice: how often each handover (a, b) happened, and the working seconds each one took."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    step_seconds: dict[str, list[int]] = field(default_factory=dict)  # each completion's own working time


def observed_follows(traces: Iterable[tuple[Sequence[Observed], bool]], calendar: Calendar | None) -> FollowsGraph:
    """Practice's graph from traces, each with whether the case finished whole (then its last step leads to ``END``)."""
    graph = FollowsGraph()
    for trace, complete in traces:
        names = [START, *(o.step for o in trace), *([END] if complete and trace else [])]
        for i, pair in enumerate(pairwise(names)):
            graph.counts[pair] += 1
            if calendar is None or pair[0] == START or pair[1] == END:
                continue
            before, after = trace[i - 1].completed_at, trace[i].completed_at
            if before is not None and after is not None and before <= after:
                graph.seconds.setdefault(pair, []).append(calendar.between(before, after))
        for o in trace:
            if calendar is not None and o.activated_at is not None and o.completed_at is not None \
                    and o.activated_at <= o.completed_at:
                graph.step_seconds.setdefault(o.step, []).append(calendar.between(o.activated_at, o.completed_at))
    return graph
