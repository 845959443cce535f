"""A report's table as people read it: headings, words and percentages of one language.

A table declares what its columns hold (``kinds``): the on-time rate (shown from the row's counts,
see ``ontime.shown_percent``), a share (a plain ratio), a yes/no, or a code with words (types,
timeliness). Undeclared columns are written as they are. Totals rows follow the rows; their ``*``
cells read "Total" ("Tổng cộng").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from engine.reporting.labels import Labels
from engine.reporting.ontime import shown_percent

Kind = Literal["rate", "share", "yes_no", "label"]
PERCENT_KINDS = ("rate", "share")
TOTAL = "*"  # the agency and procedure of a totals row in JSON


@dataclass(frozen=True)
class Table:
    name: str
    columns: Sequence[str]
    rows: Sequence[Mapping[str, Any]]
    kinds: Mapping[str, Kind] = field(default_factory=dict)
    totals: Sequence[Mapping[str, Any]] = ()
    objective: float | None = None
    heading_keys: Mapping[str, str] = field(default_factory=dict)  # a column headed by another key's words

    def headings(self, labels: Labels) -> list[str]:
        return [labels.heading(self.heading_keys.get(c, c)) for c in self.columns]

    def body(self, labels: Labels, sheet: bool = False) -> list[list[Any]]:
        """Every row then every totals row, cell by cell. ``sheet``: percentages as numbers (a ratio
        already rounded as it reads, for a ``0.0%`` cell format), else as text."""
        out = [[self._cell(row, c, labels, sheet) for c in self.columns] for row in self.rows]
        for row in self.totals:
            cells = [self._cell(row, c, labels, sheet) for c in self.columns]
            stars = [i for i, c in enumerate(self.columns) if row.get(c) == TOTAL]
            for i in stars:
                cells[i] = labels.words["total"] if i == stars[0] else None
            out.append(cells)
        return out

    def _cell(self, row: Mapping[str, Any], column: str, labels: Labels, sheet: bool) -> Any:
        kind, value = self.kinds.get(column), row.get(column)
        if kind in PERCENT_KINDS:
            shown = shown_percent(row, self.objective) if kind == "rate" else _share(value)
            if sheet:
                return None if shown is None else float(shown / 100)
            return labels.percent(shown)
        if kind == "yes_no":
            return labels.yes_no(value)
        if kind == "label":
            return labels.value(column, value)
        return value


def _share(value: float | None) -> Decimal | None:
    return None if value is None else (Decimal(str(value)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
