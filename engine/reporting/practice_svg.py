"""The practice report as an annotated SVG picture, for the management review.

The procedure's steps stand in their order from left to right between the receipt and the end; the
handovers the procedure allows are thin grey dashed arcs; practice's handovers are drawn over them, their
width by how many cases made them: blue where the procedure allows them, red where it does not (forward
arcs above the steps, backward ones, such as rework, below). A step some cases skipped has an orange dashed
border and their number; a step whose allowance is routinely exceeded is red with its median and 90th
percentile as multiples of the allowance. Activities the procedure does not have stand in a second row.
Every text is escaped: step names and ids are user data.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from engine.reporting.conformance_words import PICTURE
from engine.reporting.formats import Language

__all__ = ["practice_svg"]

_W, _H, _GAP, _TOP = 150, 60, 50, 240
_BLUE, _RED, _GREY, _ORANGE = "#1f6feb", "#d1242f", "#8c959f", "#bc4c00"


def practice_svg(report: dict[str, Any], lang: Language = Language.vi) -> str:
    words = PICTURE[lang]
    steps = [s["step"] for s in report["steps"]]
    nodes = [report["start"], *steps, report["end"]]
    extra = sorted({n for e in report["edges"] for n in (e["from"], e["to"])} - set(nodes))
    place: dict[str, tuple[float, float]] = {n: (40 + i * (_W + _GAP), _TOP) for i, n in enumerate(nodes)}
    place.update({n: (40 + (i + 1) * (_W + _GAP), _TOP + 220) for i, n in enumerate(extra)})
    width = 80 + len(nodes) * (_W + _GAP)
    height = _TOP + (330 if extra else 170) + 60
    most = max((e["cases"] for e in report["edges"]), default=1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           _text(40, 30, f"{report['procedure']} v{report['version']} — {report['name']}", 16, "bold"),
           _text(40, 52, words["subtitle"].format(cases=report["cases"]), 12)]
    for edge in report["procedure_edges"]:
        out.append(_arc(place, edge["from"], edge["to"], _GREY, 1.2, dashed=True))
    for edge in report["edges"]:
        colour = _BLUE if edge["in_procedure"] else _RED
        out.append(_arc(place, edge["from"], edge["to"], colour, 1 + 9 * edge["cases"] / most,
                        label=_edge_label(edge)))
    for step in report["steps"]:
        out.append(_box(place[step["step"]], step, words))
    for node in (report["start"], report["end"]):
        x, y = place[node]
        out.append(f'<circle cx="{x + _W / 2}" cy="{y + _H / 2}" r="18" fill="#f6f8fa" stroke="#57606a"/>')
        out.append(_text(x + _W / 2, y + _H / 2 + 40, words["start" if node == report["start"] else "end"], 12,
                         anchor="middle"))
    for node in extra:
        x, y = place[node]
        out.append(f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="#f6f8fa" stroke="{_RED}" '
                   'stroke-dasharray="4 3"/>')
        out.append(_text(x + _W / 2, y + 24, node, 12, anchor="middle"))
        out.append(_text(x + _W / 2, y + 42, words["not_in_procedure"], 10, anchor="middle", fill=_RED))
    out.append(_legend(40, height - 30, words))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _edge_label(edge: dict[str, Any]) -> str:
    median = edge["median_hours"]
    return f"{edge['cases']}" + ("" if median is None else f" · {median} h")


def _box(at: tuple[float, float], step: dict[str, Any], words: dict[str, str]) -> str:
    x, y = at
    fill = "#ffebe9" if step["routinely_exceeded"] else "white"
    stroke = f'stroke="{_ORANGE}" stroke-dasharray="5 3" stroke-width="2"' if step["skipped"] else 'stroke="#57606a"'
    parts = [f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="{fill}" {stroke}/>',
             _text(x + _W / 2, y + 20, _short(step["name"]), 12, anchor="middle"),
             _text(x + _W / 2, y + 36, _short(step["step"]), 10, anchor="middle", fill="#57606a")]
    if step["allowance_hours"] is not None:
        parts.append(_text(x + _W / 2, y + 52, words["allowance"].format(hours=step["allowance_hours"]), 10,
                           anchor="middle", fill="#57606a"))
    below = y + _H + 16
    if step["routinely_exceeded"]:
        parts.append(_text(x + _W / 2, below, words["exceeded"].format(median=step["median_ratio"],
                                                                        p90=step["p90_ratio"]), 11,
                           anchor="middle", fill=_RED, weight="bold"))
        below += 16
    if step["skipped"]:
        parts.append(_text(x + _W / 2, below, words["skipped"].format(cases=step["skipped"]), 11,
                           anchor="middle", fill=_ORANGE))
    return "\n".join(parts)


def _arc(place: dict[str, tuple[float, float]], a: str, b: str, colour: str, width: float, dashed: bool = False,
         label: str | None = None) -> str:
    (x1, y1), (x2, y2) = place[a], place[b]
    forward = x2 > x1 or (x2 == x1 and y2 >= y1)
    sx, sy = x1 + _W / 2, y1 + (0 if forward else _H)
    ex, ey = x2 + _W / 2, y2 + (0 if forward else _H)
    if y2 > y1 or y1 > y2:  # to or from the second row: from the box's side
        sy, ey = y1 + _H, y2
    lift = 40 + 0.25 * abs(ex - sx)
    cy = min(sy, ey) - lift if forward else max(sy, ey) + lift
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    path = (f'<path d="M {sx:.1f} {sy:.1f} C {sx:.1f} {cy:.1f} {ex:.1f} {cy:.1f} {ex:.1f} {ey:.1f}" fill="none" '
            f'stroke="{colour}" stroke-width="{width:.1f}" stroke-opacity="0.8"{dash} marker-end="none"/>')
    if label is None:
        return path
    mid_y = 0.25 * sy + 0.75 * cy
    return path + "\n" + _text((sx + ex) / 2, mid_y - 4 if forward else mid_y + 12, label, 10, anchor="middle",
                               fill=colour)


def _legend(x: float, y: float, words: dict[str, str]) -> str:
    items = [(_BLUE, words["legend_practice"]), (_RED, words["legend_not_in_procedure"]),
             (_GREY, words["legend_procedure"]), (_ORANGE, words["legend_skipped"])]
    parts = []
    for i, (colour, text) in enumerate(items):
        left = x + i * 260
        parts.append(f'<line x1="{left}" y1="{y}" x2="{left + 30}" y2="{y}" stroke="{colour}" stroke-width="4"/>')
        parts.append(_text(left + 38, y + 4, text, 11))
    return "\n".join(parts)


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(x: float, y: float, text: str, size: int, weight: str = "normal", anchor: str = "start",
          fill: str = "#24292f") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight={quoteattr(weight)} '
            f'text-anchor={quoteattr(anchor)} fill={quoteattr(fill)}>{escape(text)}</text>')
