"""Bounded label values, shared by the metrics (``monitoring.metrics``) and the database gauges
(``monitoring.collector``): values beyond a configured list or count become ``other``, so that invented codes
cannot grow /metrics (served without authentication) without end, and totals still add up."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from engine.core.agency import EVERY_AGENCY
from monitoring.settings import MonitoringSettings

UNKNOWN = "unknown"
OTHER = "other"
_MAX_LABEL = 64  # a label value from outside is cut, so that a malformed code cannot grow without bound


def label(value: str | None) -> str:
    return (value or UNKNOWN)[:_MAX_LABEL]


class BoundedLabel:
    """One label's values from outside, kept to a bounded set: the allow-list when one is given, else the
    first ``limit`` distinct values seen by this process; any other value is ``other``."""

    def __init__(self, limit: int, allowed: Iterable[str] | None = None):
        self.limit = limit
        self.allowed = frozenset(label(v) for v in allowed) if allowed is not None else None
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # observers run in the API's and the worker's threads

    def __call__(self, value: str | None) -> str:
        text = label(value)
        if self.allowed is not None:
            return text if text in self.allowed or text == UNKNOWN else OTHER
        if text in self._seen:
            return text
        with self._lock:
            if text in self._seen or len(self._seen) < self.limit:
                self._seen.add(text)
                return text
        return OTHER


def _listed(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass(frozen=True)
class Labels:
    """The bounded agency, procedure and step labels of one process (observers and collector share them)."""

    agency: BoundedLabel
    procedure: BoundedLabel
    step: BoundedLabel

    @classmethod
    def from_settings(cls, settings: MonitoringSettings | None = None) -> Labels:
        s = settings if settings is not None else MonitoringSettings()
        return cls(BoundedLabel(s.max_agencies, _listed(s.agencies)),
                   BoundedLabel(s.max_procedures, _listed(s.procedures)),
                   BoundedLabel(s.max_steps, _listed(s.steps)))

    def scope(self, key: str) -> str:
        """A deployment's agencies (``engine.core.agency.scope_key``) as a label: ``*`` (every agency) as it is, else
        its agencies through the agency bound, and ``other`` as soon as one of them is ``other``. A scope label
        thus names only agencies labelled by name, and there are no more of them than deployments in force,
        which only signed-in process owners make."""
        if key == EVERY_AGENCY:
            return key
        names = [self.agency(code) for code in key.split(",")]
        return OTHER if OTHER in names else ",".join(names)
