"""The history of agency codes: which code was valid when, and which code took over a closed one.

Decision 20/2020/QĐ-TTg as amended by Decision 09/2025/QĐ-TTg: when provinces merged on
1 July 2025, a merged province kept one predecessor's code and the others' codes closed. A code is
valid over ``[valid_from, valid_to)`` (either end open when absent); a closed code may name its
``successor``, and successors chain (A -> B -> C).

What "the current code" means, decided here once:
- an event's code is resolved at the instant the event occurred: a code closed at or before that
  instant is replaced by its successor (and that one by its own, if also closed then); a code still
  valid, a code the history does not list, and a closed code without a successor stay as written;
- a case's code is resolved the same way at each later event and each watcher pass, and at the
  import of a history (as of that moment), so a case only ever moves forward along the chain and the
  scope, reports and metrics follow the successor. The code a case was received with is kept apart.

A history is refused (each problem naming the row) when a code closes before it opens, names itself
or a chain that comes back to it (a cycle), names a successor closed before it or opened after it
closed, or names a successor without closing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["EMPTY_HISTORY", "AgencyCode", "AgencyHistory", "HistoryProblem", "check_history"]


@dataclass(frozen=True)
class AgencyCode:
    """One code of the history; ``row`` is where it came from (a file's row number), for problems."""

    code: str
    name: str = ""
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    successor: str | None = None
    row: int | None = None

    def closed_at(self, at: datetime) -> bool:
        return self.valid_to is not None and at >= self.valid_to


@dataclass(frozen=True)
class HistoryProblem:
    row: int | None
    code: str
    problem: str

    def __str__(self) -> str:
        where = f"row {self.row}: " if self.row is not None else ""
        return f"{where}{self.code}: {self.problem}"


class AgencyHistory:
    """A checked history (``check_history`` found nothing): resolving codes to their current code."""

    def __init__(self, codes: Iterable[AgencyCode] = ()):
        self.codes: Mapping[str, AgencyCode] = {c.code: c for c in codes}

    def __bool__(self) -> bool:
        return bool(self.codes)

    def resolve(self, code: str, at: datetime) -> str:
        """The code that stands for ``code`` at ``at``: its successor chain followed through every code
        closed by then that names a successor."""
        seen = {code}
        while True:
            entry = self.codes.get(code)
            if entry is None or entry.successor is None or not entry.closed_at(at):
                return code
            code = entry.successor
            if code in seen:  # refused at import; never loop on a history written by other means
                return code
            seen.add(code)

    def current(self, code: str) -> str:
        """The end of ``code``'s successor chain: the code that stands for it once every closing has
        happened (what a report groups by as "the current code")."""
        return self.resolve(code, _END_OF_TIME)

    def chain(self, code: str) -> list[str]:
        """``code`` and its successors in order, whatever their dates."""
        chain = [code]
        while (entry := self.codes.get(chain[-1])) is not None and entry.successor and entry.successor not in chain:
            chain.append(entry.successor)
        return chain


_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
EMPTY_HISTORY = AgencyHistory()


def check_history(codes: Iterable[AgencyCode]) -> list[HistoryProblem]:
    """Every problem of a history (empty: it can be used), each naming the row of the code at fault."""
    listed: dict[str, AgencyCode] = {}
    problems: list[HistoryProblem] = []
    for entry in codes:
        if entry.code in listed:
            first = listed[entry.code].row
            problems.append(HistoryProblem(entry.row, entry.code, f"listed twice (also row {first})"))
            continue
        listed[entry.code] = entry
    for entry in listed.values():
        problem = _problem(entry, listed)
        if problem is not None:
            problems.append(HistoryProblem(entry.row, entry.code, problem))
    return problems


def _problem(entry: AgencyCode, listed: Mapping[str, AgencyCode]) -> str | None:
    if entry.valid_from is not None and entry.valid_to is not None and entry.valid_to <= entry.valid_from:
        return f"valid_to {entry.valid_to.isoformat()} is not after valid_from {entry.valid_from.isoformat()}"
    if entry.successor is None:
        return None
    if entry.valid_to is None:
        return f"successor {entry.successor} named but the code has no valid_to (it never closes)"
    if entry.successor == entry.code:
        return "names itself as its successor"
    chain = [entry.code, entry.successor]
    while (next_entry := listed.get(chain[-1])) is not None and next_entry.successor is not None:
        if next_entry.successor in chain:
            return "successor chain comes back to a code already in it (a cycle: " + " -> ".join(
                [*chain, next_entry.successor]) + ")"
        chain.append(next_entry.successor)
    successor = listed.get(entry.successor)
    if successor is None:
        return None
    if successor.valid_to is not None and successor.valid_to < entry.valid_to:
        return (f"successor {successor.code} closes ({successor.valid_to.isoformat()}) before this code does "
                f"({entry.valid_to.isoformat()})")
    if successor.valid_from is not None and successor.valid_from > entry.valid_to:
        return (f"successor {successor.code} is valid only from {successor.valid_from.isoformat()}, after this code "
                f"closes ({entry.valid_to.isoformat()})")
    return None
