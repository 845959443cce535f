"""Token-based replay of many traces on a bundled procedure: traces per second, with and without the cache.

    python3 bench/conformance_replay.py                 # 100,000 traces of 1.009972 (parallel and exclusive)
    python3 bench/conformance_replay.py --traces 500000 --procedure bpmn/1.001806-cap-phep-so-cao-bang.bpmn

The traces are the procedure's own paths, three in ten changed (a step dropped, two swapped, one repeated,
an unknown activity): as a month of real cases, a few hundred distinct variants. ``engine.reporting``
replays each distinct (version, trace) once (``Models``); the first figure replays every trace, the second
goes through that cache. A benchmark, not a test: no threshold in CI.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.conformance import ProcedureModel, log_fitness  # noqa: E402
from engine.procedures.loader import load_procedure  # noqa: E402

DEFAULT = ROOT / "bpmn" / "1.009972-cap-giay-phep-xay-dung-so-xay-dung.bpmn"


def traces(steps: list[str], count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    main = [s for s in steps if s != "inspect_site"]
    out = []
    for _ in range(count):
        trace = list(main)
        if rng.random() < 0.3:
            i = rng.randrange(len(trace) - 1)
            kind = rng.randrange(4)
            if kind == 0:
                del trace[i]
            elif kind == 1:
                trace[i], trace[i + 1] = trace[i + 1], trace[i]
            elif kind == 2:
                trace.insert(i, trace[i])
            else:
                trace.insert(i, "photocopy")
        out.append(trace)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--procedure", type=Path, default=DEFAULT)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    definition = load_procedure(args.procedure.read_bytes(), args.procedure.name).definition
    made = traces(list(definition.steps), args.traces, args.seed)
    began = time.perf_counter()
    model = ProcedureModel(definition)
    built = time.perf_counter() - began
    began = time.perf_counter()
    results = [model.check(t) for t in made]
    every = time.perf_counter() - began
    began = time.perf_counter()
    cache: dict[tuple[str, ...], object] = {}
    for t in made:
        key = tuple(t)
        if key not in cache:
            cache[key] = model.check(t)
    cached = time.perf_counter() - began
    fitness = log_fitness(results)
    print(f"procedure {definition.code}: net built in {built * 1000:.1f} ms")
    print(f"{len(made):,} traces, {len(cache):,} variants; log fitness {fitness.log_fitness:.4f}, "
          f"fitting {fitness.fitting_share:.1%}")
    print(f"every trace replayed: {every:.2f} s ({len(made) / every:,.0f} traces/s)")
    print(f"once per variant:     {cached:.2f} s ({len(made) / cached:,.0f} traces/s)")


if __name__ == "__main__":
    main()
