"""The procedure as a Petri net, for conformance: built as pm4py's BPMN to Petri net conversion builds it.

Each step (BPMN task) is a visible transition labelled with its step id; start and end events, gateways
and sequence flows become silent transitions and places: a place per sequence flow, an entry and an exit
place per node, a silent split (join) transition for a parallel or inclusive gateway with more than one
outgoing (incoming) flow, silent transitions linking a node's exit place to a flow and a flow to a node's
entry place, and the places ``source`` and ``sink``. Then the silent transitions with one input (output)
place that only they use are merged into their neighbours, as pm4py's simple reduction does, so that the
tokens counted by the replay are those pm4py counts. Inclusive gateways are converted as parallel ones
(pm4py adds a shortcut for them that the bundled procedures never need).

Pure: built from a ``ProcedureDefinition`` (its tasks, ``graph`` and ``kinds``); no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.procedure import ProcedureDefinition

__all__ = ["SINK", "SOURCE", "Net", "Transition", "procedure_net"]

SOURCE = "source"
SINK = "sink"

_CONVERTED = frozenset({"startEvent", "endEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway"})
_FORKING = frozenset({"parallelGateway", "inclusiveGateway"})


@dataclass
class Transition:
    name: str
    label: str | None  # the step id of a visible transition; None for a silent one
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def silent(self) -> bool:
        return self.label is None


@dataclass
class Net:
    """A workflow net: one token in ``source`` at the start, one in ``sink`` at the end."""

    transitions: dict[str, Transition] = field(default_factory=dict)

    def places(self) -> set[str]:
        return {p for t in self.transitions.values() for p in (*t.inputs, *t.outputs)} | {SOURCE, SINK}

    def add(self, name: str, label: str | None, inputs: list[str], outputs: list[str]) -> Transition:
        transition = Transition(name, label, list(inputs), list(outputs))
        self.transitions[name] = transition
        return transition

    def producers(self, place: str) -> list[Transition]:
        return [t for t in self.transitions.values() if place in t.outputs]

    def consumers(self, place: str) -> list[Transition]:
        return [t for t in self.transitions.values() if place in t.inputs]

    def visible(self, label: str) -> Transition | None:
        """The transition of step ``label`` (a step id is one BPMN task: one transition)."""
        found = self.transitions.get(label)
        return found if found is not None and found.label == label else None


def kind_of(definition: ProcedureDefinition, node: str) -> str:
    """A node's BPMN kind; for a definition built without kinds, guessed from its place in the graph."""
    if node in definition.kinds:
        return definition.kinds[node]
    if node in definition.steps:
        return "task"
    if not any(node in targets for targets in definition.graph.values()):
        return "startEvent"
    return "endEvent" if not definition.graph.get(node) else "exclusiveGateway"


def procedure_net(definition: ProcedureDefinition) -> Net:
    net = Net()
    nodes = [n for n in definition.graph if n in definition.steps or kind_of(definition, n) in _CONVERTED]
    flows = [(s, t) for s in nodes for t in definition.graph.get(s, ()) if t in nodes]
    outgoing = {n: sum(1 for s, _ in flows if s == n) for n in nodes}
    incoming = {n: sum(1 for _, t in flows if t == n) for n in nodes}
    entering: dict[str, str] = {}  # node -> the place or silent transition a flow into it ends at
    exiting: dict[str, str] = {}
    for node in nodes:
        kind = kind_of(definition, node)
        entry, exit_ = f"ent_{node}", f"exi_{node}"
        net.add(node, node if node in definition.steps else None, [entry], [exit_])
        entering[node], exiting[node] = entry, exit_
        if kind in _FORKING and outgoing[node] > 1:
            exiting[node] = net.add(f"split_{node}", None, [exit_], []).name
        if kind in _FORKING and incoming[node] > 1:
            entering[node] = net.add(f"join_{node}", None, [], [entry]).name
        if kind == "startEvent":
            net.add(f"start_{node}", None, [SOURCE], [entry])
        elif kind == "endEvent":
            net.add(f"end_{node}", None, [exit_], [SINK])
    for source, target in flows:
        place = f"{source}->{target}"
        before, after = exiting[source], entering[target]
        if before not in net.transitions:
            before = net.add(f"sfl_{place}", None, [before], []).name
        if after not in net.transitions:
            after = net.add(f"tfl_{place}", None, [], [after]).name
        net.transitions[before].outputs.append(place)
        net.transitions[after].inputs.append(place)
    _inclusive_shortcuts(net, definition, flows, outgoing, incoming)
    _reduce(net)
    return net


def _inclusive_shortcuts(net: Net, definition: ProcedureDefinition, flows: list[tuple[str, str]],
                         outgoing: dict[str, int], incoming: dict[str, int]) -> None:
    """A branch of an inclusive split may be left out: a silent transition from each flow leaving the split to
    the nearest flow entering an inclusive join, as pm4py adds them."""
    inclusive = {n for n in outgoing if kind_of(definition, n) == "inclusiveGateway"}
    exits = {f"{s}->{t}" for s, t in flows if s in inclusive and outgoing[s] > 1}
    entries = {f"{s}->{t}" for s, t in flows if t in inclusive and incoming[t] > 1}
    exits, entries = exits - entries, entries - exits
    if not exits or not entries:
        return
    following: dict[str, set[str]] = {}
    for t in list(net.transitions.values()):
        for p in t.inputs:
            following.setdefault(p, set()).update(t.outputs)
    for place in sorted(exits):
        distance = {place: 0}
        queue = [place]
        for current in queue:  # breadth first: places in order of distance
            for nxt in sorted(following.get(current, ())):
                if nxt not in distance:
                    distance[nxt] = distance[current] + 1
                    queue.append(nxt)
        reached = sorted((d, p) for p, d in distance.items() if p in entries)
        if reached:
            net.add(f"skip_{place}", None, [place], [reached[0][1]])


def _reduce(net: Net) -> None:
    """Merge silent transitions into their neighbours while one can be (pm4py's simple reduction)."""
    while _merge_single_entry(net) or _merge_single_exit(net):
        pass


def _merge_single_entry(net: Net) -> bool:
    for t in list(net.transitions.values()):
        if not t.silent or len(t.inputs) != 1:
            continue
        place = t.inputs[0]
        producers, consumers = net.producers(place), net.consumers(place)
        if len(producers) == 1 and producers[0] is not t and consumers == [t] and place != SOURCE:
            source = producers[0]
            source.outputs = [p for p in source.outputs if p != place] + t.outputs
            del net.transitions[t.name]
            return True
    return False


def _merge_single_exit(net: Net) -> bool:
    for t in list(net.transitions.values()):
        if not t.silent or len(t.outputs) != 1:
            continue
        place = t.outputs[0]
        producers, consumers = net.producers(place), net.consumers(place)
        if len(consumers) == 1 and consumers[0] is not t and producers == [t] and place != SINK:
            target = consumers[0]
            target.inputs = [p for p in target.inputs if p != place] + t.inputs
            del net.transitions[t.name]
            return True
    return False
