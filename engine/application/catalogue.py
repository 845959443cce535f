"""Importing the national catalogue of administrative procedures (``eiso catalogue import``).

A file exported from the national database (CSV, XLSX or JSON) is read, every row is checked, and
then either every row is written (inserted, or updated by code and effective date) or, when any row
has a problem, nothing is, and each problem is reported with its row number.

Columns (headings compared without case, extra spaces or accents' Unicode form; other columns, such
as "STT", are ignored):

============== ======================================================= ================================
field          CSV / XLSX heading (the national database's export)     JSON key
============== ======================================================= ================================
code           Mã thủ tục (also: Mã TTHC, Mã số)                        ``code``
name           Tên thủ tục (also: Tên TTHC)                             ``name``
level          Cấp thực hiện                                            ``level``
sector         Lĩnh vực                                                 ``sector``
time limit     Thời hạn giải quyết (also: Thời gian giải quyết)         ``time_limit``
status         Trạng thái (also: Tình trạng)                            ``status``
effective date Ngày hiệu lực (also: Ngày có hiệu lực)                   ``effective_date``
============== ======================================================= ================================

JSON is an array of objects (or ``{"procedures": [...]}``), keyed by the English keys or the
Vietnamese headings.  Row numbers are the spreadsheet's line numbers (the heading is row 1, so the
first procedure is row 2) and, in JSON, the object's position counting from 1.

Required in every row: a code (at most 32 characters, no spaces), an effective date (``dd/mm/yyyy``,
``yyyy-mm-dd`` or a spreadsheet date) and a time limit that reads as working time
(``engine.core.published_limit``).  With ``allow_unreadable`` a limit that does not read is stored
unknown, with its reason; a missing code or date still refuses the import.  A status containing
"bãi bỏ", "hết hiệu lực", "abolished" or "repealed" marks the procedure abolished from its date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from engine.application.table_files import TableSpec, read_table_file
from engine.application.table_files import text as _text
from engine.core.durations import format_working_duration
from engine.core.published_limit import PublishedLimit, parse_published_limit
from engine.store.catalogue import CatalogueEntry, CatalogueRecord, Written, upsert_catalogue

__all__ = ["COLUMNS", "CatalogueFileError", "DeployedVersion", "Finding", "ImportResult", "RowProblem",
           "import_catalogue", "read_rows", "review"]

#: field -> the headings and keys that name it, normalised (lower case, NFC, single spaces).
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "mã thủ tục", "mã tthc", "mã số", "mã số thủ tục"),
    "name": ("name", "tên thủ tục", "tên tthc", "tên thủ tục hành chính"),
    "level": ("level", "cấp thực hiện"),
    "sector": ("sector", "lĩnh vực"),
    "time_limit": ("time_limit", "thời hạn giải quyết", "thời gian giải quyết"),
    "status": ("status", "trạng thái", "tình trạng"),
    "effective_date": ("effective_date", "ngày hiệu lực", "ngày có hiệu lực"),
}
_ABOLISHED = ("bãi bỏ", "hết hiệu lực", "abolished", "repealed")
_CODE = re.compile(r"[^\s]{1,32}")
MAX_ROWS = 100_000


class CatalogueFileError(ValueError):
    """A file that cannot be read as a catalogue at all (format, headings, encoding)."""


_SPEC = TableSpec(COLUMNS, CatalogueFileError, json_key="procedures", json_items="procedures",
                  expected_headings="headings such as Mã thủ tục, Tên thủ tục, Thời hạn giải quyết, Ngày hiệu lực",
                  max_rows=MAX_ROWS)


@dataclass(frozen=True)
class RowProblem:
    row: int
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.problem}"


@dataclass(frozen=True)
class ImportResult:
    rows: int
    problems: list[RowProblem] = field(default_factory=list)
    written: Written | None = None  # None when nothing was written
    unreadable: list[RowProblem] = field(default_factory=list)  # limits stored unknown


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The file's rows, each with its row number, keyed by field name (unknown columns dropped)."""
    return read_table_file(path, _SPEC)


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if text is None:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text.split(" ")[0].split("T")[0], pattern).date()
        except ValueError:
            continue
    raise ValueError(f"effective date {text!r}: expected dd/mm/yyyy or yyyy-mm-dd")


def check_row(row: dict[str, Any], allow_unreadable: bool) -> tuple[CatalogueRecord | None, str | None]:
    """The record of one row, or its problem; with ``allow_unreadable`` an unread limit is its reason."""
    if "_problem" in row:
        return None, str(row["_problem"])
    code = _text(row.get("code"))
    if code is None:
        return None, "no procedure code (Mã thủ tục)"
    if not _CODE.fullmatch(code):
        return None, f"procedure code {code[:40]!r}: at most 32 characters, without spaces"
    try:
        effective = _date(row.get("effective_date"))
    except ValueError as err:
        return None, f"{code}: {err}"
    if effective is None:
        return None, f"{code}: no effective date (Ngày hiệu lực)"
    published = _text(row.get("time_limit")) or ""
    limit = parse_published_limit(published)
    if isinstance(limit, PublishedLimit):
        duration, seconds, note, problem = limit.duration, limit.seconds, limit.note or None, None
    else:
        if not allow_unreadable:
            return None, f"{code}: time limit {published[:120]!r}: {limit.reason}"
        duration, seconds, note, problem = None, None, None, limit.reason
    status = _text(row.get("status"))
    folded = (status or "").lower()
    return CatalogueRecord(
        code=code, effective_date=effective, name=_text(row.get("name")) or "",
        level=(_text(row.get("level")) or "")[:200] or None, sector=(_text(row.get("sector")) or "")[:500] or None,
        time_limit=published, limit_duration=duration, limit_seconds=seconds, limit_note=note,
        limit_problem=problem, status=status[:200] if status else None,
        abolished=any(word in folded for word in _ABOLISHED),
    ), problem


def import_catalogue(engine: Engine, path: Path, at: datetime, *, allow_unreadable: bool = False) -> ImportResult:
    """Check every row of ``path``; write them all (upsert by code and effective date) or none."""
    rows = read_rows(path)
    problems: list[RowProblem] = []
    unreadable: list[RowProblem] = []
    records: list[CatalogueRecord] = []
    seen: dict[tuple[str, date], int] = {}
    for number, row in rows:
        record, problem = check_row(row, allow_unreadable)
        if record is None:
            problems.append(RowProblem(number, problem or "unreadable row"))
            continue
        if problem is not None:
            unreadable.append(RowProblem(number, f"{record.code}: time limit stored unknown: {problem}"))
        key = (record.code, record.effective_date)
        if key in seen:
            problems.append(RowProblem(number, f"{record.code}: same code and effective date as row {seen[key]}"))
            continue
        seen[key] = number
        records.append(record)
    if problems:
        return ImportResult(len(rows), problems, None, unreadable)
    written = upsert_catalogue(engine, records, path.name, at)
    return ImportResult(len(rows), [], written, unreadable)


# -- eiso procedures review: the deployed procedures against the catalogue ------------------------------

class DeployedVersion(Protocol):
    """What the review needs of a deployed version (``engine.store.tables.ProcedureVersion``)."""

    code: str
    scope: str
    version: int
    statutory_limit_seconds: int
    deployed_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class Finding:
    """One thing to look at: ``kind`` is ``limit_differs``, ``abolished_in_force``, ``limit_unknown``,
    ``not_deployed`` or ``not_in_catalogue``; ``changed_on`` is the catalogue entry's effective date (the
    version's deployment date for ``not_in_catalogue``)."""

    kind: str
    code: str
    changed_on: date
    detail: str
    version: int | None = None
    scope: str | None = None
    deployed_limit: str | None = None
    catalogue_limit: str | None = None


def review(versions: Iterable[DeployedVersion], entries: Iterable[CatalogueEntry], at: datetime) -> list[Finding]:
    """The deployed procedures in force at ``at`` against the catalogue entries in force on its date.

    In force: for each code and scope, the newest version deployed at or before ``at`` and not retired
    by then; for each code, the catalogue entry with the latest effective date on or before ``at``'s date.
    """
    today = at.date()
    in_force: dict[tuple[str, str], DeployedVersion] = {}
    for version in versions:
        if version.deployed_at > at or (version.retired_at is not None and version.retired_at <= at):
            continue
        key = (version.code, version.scope)
        if key not in in_force or version.version > in_force[key].version:
            in_force[key] = version
    current: dict[str, CatalogueEntry] = {}
    for entry in entries:
        if entry.effective_date <= today and (entry.code not in current
                                              or entry.effective_date > current[entry.code].effective_date):
            current[entry.code] = entry
    findings: list[Finding] = []
    deployed_codes = {code for code, _ in in_force}
    for (code, scope), version in sorted(in_force.items()):
        deployed = format_working_duration(version.statutory_limit_seconds)
        listed = current.get(code)
        if listed is None:
            kind, on, detail = ("not_in_catalogue", version.deployed_at.date(),
                                f"deployed ({deployed}) but not in the catalogue")
        elif listed.abolished:
            kind, on, detail = ("abolished_in_force", listed.effective_date,
                                f"abolished ({listed.status}) but version {version.version} is in force")
        elif listed.limit_seconds is None:
            kind, on, detail = ("limit_unknown", listed.effective_date,
                                f"the catalogue's limit {listed.time_limit!r} does not read as working time "
                                f"({listed.limit_problem})")
        elif listed.limit_seconds != version.statutory_limit_seconds:
            kind, on, detail = ("limit_differs", listed.effective_date,
                                f"statutory limit {deployed}, the catalogue says {listed.limit_duration} "
                                f"({listed.time_limit})")
        else:
            continue
        findings.append(Finding(kind, code, on, detail, version.version, scope, deployed,
                                listed.limit_duration if listed is not None else None))
    for code, entry in sorted(current.items()):
        if code not in deployed_codes and not entry.abolished:
            findings.append(Finding("not_deployed", code=code, changed_on=entry.effective_date,
                                    detail=f"in the catalogue ({entry.name}) without an ISO procedure in force",
                                    catalogue_limit=entry.limit_duration))
    return findings
