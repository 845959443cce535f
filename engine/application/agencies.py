"""Importing the agency code history (``eiso agencies import``).

A file (CSV, XLSX or JSON) lists agency codes with their validity and successor (Decision 09/2025/
QĐ-TTg: a merged province keeps one predecessor's code, the others close). Every row is checked,
then the whole history (what is stored, updated by the file's rows) is checked (``engine.core.
agency_history.check_history``); any problem refuses the file whole, each problem naming its row.
Otherwise, in one transaction, the rows are written (inserted or updated by code), the cases, steps and
nonconformities of codes already closed move to their current code, and an audit entry records who
imported which file (name, SHA-256, rows).

Columns (headings compared without case; other columns ignored):

=========== ================================================= =================================
field       CSV / XLSX heading                                JSON key
=========== ================================================= =================================
code        code (also: Mã định danh, Mã cơ quan)              ``code``
name        name (also: Tên cơ quan, Tên đơn vị)               ``name``
valid_from  valid_from (also: Hiệu lực từ, Ngày bắt đầu)       ``valid_from``
valid_to    valid_to (also: Hiệu lực đến, Ngày đóng mã)        ``valid_to``
successor   successor (also: Mã kế thừa, Mã thay thế)          ``successor``
=========== ================================================= =================================

JSON is an array of objects (or ``{"agencies": [...]}``). Codes are electronic agency codes
(``000.00.12.H10``). Dates are ``yyyy-mm-dd``, ``dd/mm/yyyy`` or a spreadsheet date (the start of
that day in the calendar's time zone), or an RFC 3339 instant; ``valid_to`` is exclusive: a code
closed on 2025-07-01 is no longer valid from that day's midnight.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from engine.application.table_files import TableSpec, read_table_file
from engine.application.table_files import text as _text
from engine.core.agency_history import AgencyCode, AgencyHistory, HistoryProblem, check_history
from engine.core.events import check_agency_code
from engine.store.agencies import ImportRecord, Saved, save_history, stored_codes
from engine.store.agencies import as_code as stored_as_code

__all__ = ["COLUMNS", "AgencyFileError", "HistoryImport", "import_agency_history", "read_codes"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "mã định danh", "mã cơ quan", "mã đơn vị"),
    "name": ("name", "tên cơ quan", "tên đơn vị"),
    "valid_from": ("valid_from", "hiệu lực từ", "ngày bắt đầu"),
    "valid_to": ("valid_to", "hiệu lực đến", "ngày đóng mã"),
    "successor": ("successor", "mã kế thừa", "mã thay thế"),
}
MAX_ROWS = 100_000


class AgencyFileError(ValueError):
    """A file that cannot be read as a history at all (format, headings, encoding)."""


_SPEC = TableSpec(COLUMNS, AgencyFileError, json_key="agencies", json_items="agency codes",
                  expected_headings="headings code, name, valid_from, valid_to, successor", max_rows=MAX_ROWS)


@dataclass(frozen=True)
class HistoryImport:
    rows: int
    problems: list[HistoryProblem] = field(default_factory=list)
    saved: Saved | None = None  # None: nothing written


def read_codes(path: Path, zone: tzinfo) -> tuple[int, list[AgencyCode], list[HistoryProblem]]:
    """The file's rows as codes (each with its row number), and the problems of rows that do not read."""
    rows = read_table_file(path, _SPEC)
    codes: list[AgencyCode] = []
    problems: list[HistoryProblem] = []
    for number, row in rows:
        try:
            codes.append(_code(number, row, zone))
        except ValueError as err:
            problems.append(HistoryProblem(number, _text(row.get("code")) or "(no code)", str(err)))
    return len(rows), codes, problems


def import_agency_history(engine: Engine, path: Path, at: datetime, zone: tzinfo, actor: str,
                          role: str = "cli") -> HistoryImport:
    """Check ``path`` and the history it makes with what is stored; write it all, or nothing."""
    raw = path.read_bytes()
    count, codes, problems = read_codes(path, zone)
    if problems:
        return HistoryImport(count, problems)
    listed = {c.code: c for c in codes}
    merged = [c for c in (stored_as_code(row) for row in stored_codes(engine)) if c.code not in listed]
    found = check_history([*codes, *merged])
    if found:
        return HistoryImport(count, [_named(p) for p in found])
    history = AgencyHistory([*codes, *merged])
    record = ImportRecord(actor=actor, role=role, source=path.name, sha256=hashlib.sha256(raw).hexdigest(),
                          rows=count)
    return HistoryImport(count, [], save_history(engine, codes, history, at, record))


def _named(problem: HistoryProblem) -> HistoryProblem:
    if problem.row is not None:
        return problem
    return HistoryProblem(None, problem.code, problem.problem + " (a code already imported, with this file's rows)")


def _agency(value: Any, name: str) -> str | None:
    text = _text(value)
    if text is None:
        return None
    problem = check_agency_code(text)
    if problem is not None:
        raise ValueError(f"{name}: {problem}")
    return text


def _instant(value: Any, name: str, zone: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else datetime.combine(value.date(), time(), zone)
    if isinstance(value, date):
        return datetime.combine(value, time(), zone)
    text = _text(value)
    if text is None:
        return None
    if "T" in text:
        try:
            instant = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
        except ValueError:
            instant = None
        if instant is not None and instant.tzinfo is not None:
            return instant
        raise ValueError(f"{name} {text[:60]!r}: an instant needs an offset (RFC 3339)")
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.combine(datetime.strptime(text.split(" ")[0], pattern).date(), time(), zone)
        except ValueError:
            continue
    raise ValueError(f"{name} {text[:60]!r}: expected yyyy-mm-dd, dd/mm/yyyy or an RFC 3339 instant")


def _code(number: int, row: dict[str, Any], zone: tzinfo) -> AgencyCode:
    if "_problem" in row:
        raise ValueError(str(row["_problem"]))
    code = _agency(row.get("code"), "code")
    if code is None:
        raise ValueError("no agency code")
    name = (_text(row.get("name")) or "")
    if len(name) > 500:
        raise ValueError("name longer than 500 characters")
    return AgencyCode(code=code, name=name, valid_from=_instant(row.get("valid_from"), "valid_from", zone),
                      valid_to=_instant(row.get("valid_to"), "valid_to", zone),
                      successor=_agency(row.get("successor"), "successor"), row=number)
