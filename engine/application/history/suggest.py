"""A proposed activity map (``eiso history import --suggest``): for a person to check, never applied.

Each activity of the log is matched by name similarity (``difflib``, on text folded to lower case
without Vietnamese diacritics) to the procedure's step ids and step names, and listed with its
frequency; an activity with no step close enough is proposed as ``ignore``, saying so.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from engine.application.history.log import Trace
from engine.application.history.mapping import IGNORE, ColumnMapping, text_value
from engine.core.procedure import ProcedureDefinition

CLOSE_ENOUGH = 0.6  # below it an activity is proposed as "ignore", saying which step was nearest


@dataclass(frozen=True)
class Proposal:
    activity: str
    events: int
    target: str
    score: float
    step_name: str | None


def count_activities(traces: Iterable[Trace], columns: ColumnMapping) -> Counter[str]:
    counts: Counter[str] = Counter()
    for trace in traces:
        for event in trace.events:
            activity = text_value(event.attributes.get(columns.activity))
            if activity is not None:
                counts[activity] += 1
    return counts


def fold(text: str) -> str:
    """Lower case, without diacritics (đ as d), words separated by single spaces."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(re.split(r"[^0-9a-z]+", bare)).strip()


def propose(counts: Counter[str], procedure: ProcedureDefinition) -> list[Proposal]:
    """The best step for each activity, most frequent activity first."""
    candidates = [(step_id, step.name, [fold(step_id), fold(step.name)]) for step_id, step in procedure.steps.items()]
    proposals = []
    for activity, events in counts.most_common():
        folded = fold(activity)
        best: tuple[float, str | None, str | None] = (0.0, None, None)
        for step_id, name, forms in candidates:
            score = max(_similarity(folded, form) for form in forms if form)
            if score > best[0]:
                best = (score, step_id, name)
        score, best_id, best_name = best
        target = best_id if best_id is not None and score >= CLOSE_ENOUGH else IGNORE
        proposals.append(Proposal(activity, events, target, score, best_name))
    return proposals


def _similarity(a: str, b: str) -> float:
    whole = difflib.SequenceMatcher(None, a, b).ratio()
    words_a, words_b = set(a.split()), set(b.split())
    shared = len(words_a & words_b) / len(words_a) if words_a else 0.0  # the activity's words found in the step
    return max(whole, shared * 0.9)


def render_toml(proposals: list[Proposal], procedure: ProcedureDefinition, version: int, source: str) -> str:
    total = sum(p.events for p in proposals)
    lines = [
        f"# Proposed by `eiso history import --suggest` from {source}: {total:,} events, {len(proposals)} activities,",
        f"# against procedure {procedure.code} version {version} ({procedure.name}).",
        "# Check every line, then pass this file with --map. A target is a step id, \"ignore\", or an event",
        "# type of the contract (case.result_ready, case.returned, case.supplement_requested, ...), or a list:",
        "# [\"return_result\", \"case.returned\"] completes the step and returns the case (resolving it when no",
        "# result_ready came): without a result (a column or an activity) a replayed case stays open.",
        "# Steps: " + ", ".join(procedure.steps),
        f"procedure = {_quote(procedure.code)}",
        "",
        "[activities]",
    ]
    for p in proposals:
        if p.target == IGNORE:
            near = f"; nearest step {p.step_name!r} at {p.score:.2f}" if p.step_name else ""
            lines.append(f"# {p.events:,} events; no step close enough{near}")
        else:
            lines.append(f"# {p.events:,} events; step {p.step_name!r}; similarity {p.score:.2f}")
        lines.append(f"{_quote(p.activity)} = {_quote(p.target)}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string
