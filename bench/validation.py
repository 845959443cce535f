"""Validating a hostile procedure file: how its cost grows with the number of sequence flows.

    python3 bench/validation.py                  # 5,000 / 10,000 / 20,000 / 40,000 flows
    python3 bench/validation.py --flows 1000 2000
    python3 bench/validation.py --unbounded      # the checks themselves, with the size bounds lifted

Each file is one exclusive gateway fanning out to ``n`` conditional flows (the shape of the
5 MB, 40,000-flow file of issue 10, item 9). With the bounds, a file past them is refused after
one count of its nodes; with ``--unbounded`` every check runs, and should grow linearly: twice the
flows, about twice the time. A benchmark, not a test: it prints what it measured, no threshold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.procedures import loader, structure  # noqa: E402
from engine.procedures.loader import validate_source  # noqa: E402

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="https://eiso.example/b">'
    '<bpmn:process id="proc" isExecutable="true"><bpmn:extensionElements><camunda:properties>'
    '<camunda:property name="procedureCode" value="1.001806"/>'
    '<camunda:property name="statutoryLimit" value="P2D"/></camunda:properties></bpmn:extensionElements>'
    '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>'
    '<bpmn:userTask id="a"><bpmn:extensionElements><camunda:properties>'
    '<camunda:property name="deadline" value="P1D"/></camunda:properties></bpmn:extensionElements>'
    "</bpmn:userTask>"
    '<bpmn:exclusiveGateway id="gw" default="f0"/>'
    '<bpmn:sequenceFlow id="s" sourceRef="start" targetRef="gw"/>'
    '<bpmn:sequenceFlow id="e" sourceRef="a" targetRef="end"/>'
)


def gateway_fan_out(flows: int) -> bytes:
    """A procedure whose one gateway has ``flows`` outgoing conditional flows to the same step."""
    parts = [_HEAD]
    for i in range(flows):
        parts.append(f'<sequenceFlow id="f{i}" sourceRef="gw" targetRef="a">'
                     f"<conditionExpression>x == {i}</conditionExpression></sequenceFlow>")
    parts.append("</bpmn:process></bpmn:definitions>")
    return "".join(parts).encode()


def measure(flows: int, repeat: int = 3) -> tuple[int, float, int]:
    """(file size, best validation time in seconds, number of problems) for ``flows`` flows."""
    source = gateway_fan_out(flows)
    best = float("inf")
    found = 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = len(validate_source(source, "fan-out.bpmn"))
        best = min(best, time.perf_counter() - started)
    return len(source), best, found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, nargs="+", default=[5_000, 10_000, 20_000, 40_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--unbounded", action="store_true", help="lift the size bounds to time the checks")
    args = parser.parse_args(argv)
    if args.unbounded:
        loader.MAX_NODES = structure.MAX_SEQUENCE_FLOWS = structure.MAX_FLOW_NODES = 10**9
    previous: float | None = None
    print(f"{'flows':>8} {'bytes':>11} {'seconds':>9} {'ratio':>6} {'problems':>9}")
    for flows in args.flows:
        size, seconds, found = measure(flows, args.repeat)
        ratio = f"{seconds / previous:.2f}" if previous else ""
        print(f"{flows:>8,} {size:>11,} {seconds:>9.3f} {ratio:>6} {found:>9,}")
        previous = seconds


if __name__ == "__main__":
    main()
