"""A history log as traces: one dossier's events with its case attributes, read from any format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class HistoryLogError(ValueError):
    """The file cannot be read as a history log at all (format, heading, encoding, unsafe XML)."""


class TraceProblem(ValueError):
    """One case cannot be read or replayed; ``kind`` groups the summary's counts."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class LogEvent:
    """One row (CSV/XLSX) or ``<event>`` (XES) of a trace.

    ``attributes`` keep their raw values (XES typed values, CSV text); ``where`` names the line or
    element for messages.
    """

    attributes: dict[str, Any]
    where: str


@dataclass
class Trace:
    """A case: its id, its case-level attributes (keys as the mapping names them, e.g. ``case:deadline``)
    and its events in file order."""

    case_id: str
    where: str
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[LogEvent] = field(default_factory=list)
    problem: TraceProblem | None = None  # found while reading: the trace is refused, not replayed

