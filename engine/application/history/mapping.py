"""What the log's columns and activities mean: the column mapping and the activity map (TOML files).

Column names default to the XES standard's (``concept:name``, ``time:timestamp``,
``lifecycle:transition``, ``org:resource``, ``org:group``) and to pm4py's ``case:`` prefix for case
attributes, so that a log exported by a process-mining tool needs no mapping. In an XES file a trace's
own attributes are read under ``case:<key>`` (its ``concept:name`` is ``case:concept:name``).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.application.history.log import HistoryLogError, TraceProblem
from engine.core.events import EVENT_TYPES

IGNORE = "ignore"
START, COMPLETE = "start", "complete"


@dataclass(frozen=True)
class ColumnMapping:
    """Which attribute (CSV heading, XES key) holds each field; ``None``: not in the log."""

    case_id: str = "case:concept:name"
    activity: str = "concept:name"
    timestamp: str = "time:timestamp"
    lifecycle: str | None = "lifecycle:transition"
    resource: str | None = "org:resource"
    unit: str | None = "org:group"
    agency: str | None = "case:agency"
    procedure: str | None = "case:procedure"
    receipt: str | None = "case:receipt"
    due: tuple[str, ...] = ("case:deadline", "case:enddate_planned")
    result: str | None = "case:enddate"

    @classmethod
    def from_toml(cls, path: Path) -> ColumnMapping:
        table = _read_toml(path).get("columns", None)
        if not isinstance(table, dict):
            raise HistoryLogError(f"{path.name}: expected a [columns] table (e.g. case_id = \"MaHoSo\")")
        return cls.from_dict(table, path.name)

    @classmethod
    def from_dict(cls, table: dict[str, Any], where: str = "columns") -> ColumnMapping:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise HistoryLogError(f"{where}: unknown column field {key!r} "
                                      f"(expected one of {', '.join(sorted(known))})")
            if key == "due":
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
                    raise HistoryLogError(f"{where}: due must be a column name or a list of them")
                values[key] = tuple(items)
            elif value == "" and key not in ("case_id", "activity", "timestamp"):
                values[key] = None  # "" says: this log has no such column
            elif not isinstance(value, str) or not value:
                raise HistoryLogError(f"{where}: {key} must be a column name, got {value!r}")
            else:
                values[key] = value
        return replace(cls(), **values)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["due"] = list(self.due)
        return out


# Headings a dossier-history export commonly uses instead of the XES names, per field (compared without
# case, diacritics, spaces, underscores or hyphens). A CSV/XLSX log whose heading row lacks a field's
# default name and has one of these (and no --columns naming it otherwise) is read as if it had the default.
HEADING_ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": ("case_id", "case id", "case", "caseid", "ma ho so", "so ho so", "ho so", "dossier", "dossier id"),
    "activity": ("activity", "task", "step", "buoc", "hoat dong", "cong viec", "noi dung cong viec"),
    "timestamp": ("timestamp", "time", "datetime", "date time", "thoi gian", "thoi diem", "ngay gio"),
    "lifecycle": ("lifecycle", "transition", "trang thai buoc"),
    "resource": ("resource", "user", "officer", "can bo", "nguoi xu ly"),
    "unit": ("unit", "department", "don vi", "phong ban", "trach nhiem"),
    "agency": ("agency", "agency code", "co quan", "ma co quan", "ma don vi"),
    "procedure": ("procedure", "procedure code", "ma thu tuc", "thu tuc"),
}


def heading_key(text: str) -> str:
    """A heading compared loosely: no case, diacritics (đ as d), spaces, underscores or hyphens."""
    plain = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return re.sub(r"[\s_\-:.]+", "", "".join(c for c in plain if not unicodedata.combining(c)))


def aliased_headings(headings: list[str], columns: ColumnMapping) -> list[str]:
    """The heading row with common aliases renamed to the mapping's names (``HEADING_ALIASES``).

    Only a field still on its default name, absent from the row, is looked for; the first heading that is one
    of its aliases takes that name. Headings the mapping names are never renamed.
    """
    default = ColumnMapping()
    out = list(headings)
    named = {v for v in asdict(columns).values() if isinstance(v, str)}
    for field_name, aliases in HEADING_ALIASES.items():
        wanted = getattr(columns, field_name)
        if wanted is None or wanted != getattr(default, field_name) or wanted in out:
            continue
        keys = {heading_key(a) for a in aliases}
        for index, heading in enumerate(out):
            if heading and heading not in named and heading_key(heading) in keys:
                out[index] = wanted
                break
    return out


@dataclass(frozen=True)
class ActivityMap:
    """Activity name -> what it means: a BPMN step id, a contract event type (``case.result_ready``...), both
    (a list: e.g. ``["return_result", "case.returned"]``, the step completed and the case returned), or ``ignore``."""

    targets: dict[str, str | tuple[str, ...]]
    procedure: str | None = None
    agency: str | None = None

    @classmethod
    def from_toml(cls, path: Path) -> ActivityMap:
        data = _read_toml(path)
        table = data.get("activities")
        if not isinstance(table, dict):
            raise HistoryLogError(f"{path.name}: expected an [activities] table (\"activity name\" = \"step id\" "
                                  "or \"ignore\")")
        targets: dict[str, str | tuple[str, ...]] = {}
        for name, target in table.items():
            items = [target] if isinstance(target, str) else target
            if (not isinstance(items, list) or not items
                    or not all(isinstance(t, str) and t.strip() for t in items)
                    or (len(items) > 1 and IGNORE in [t.strip() for t in items])):
                raise HistoryLogError(f"{path.name}: activity {name!r}: expected a step id, an event type, a list of "
                                      f"them or \"ignore\", got {target!r}")
            targets[normal_activity(name)] = items[0].strip() if len(items) == 1 else tuple(t.strip() for t in items)
        procedure, agency = data.get("procedure"), data.get("agency")
        for key, value in (("procedure", procedure), ("agency", agency)):
            if value is not None and not isinstance(value, str):
                raise HistoryLogError(f"{path.name}: {key} must be text")
        return cls(targets, procedure, agency)

    def target(self, activity: str) -> tuple[str, ...] | None:
        """The step ids and event types (or ``(IGNORE,)``), or None when the activity is not in the map."""
        found = self.targets.get(normal_activity(activity))
        return (found,) if isinstance(found, str) else found


def is_event_type(target: str) -> bool:
    return target in EVENT_TYPES


def normal_activity(name: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", name)).strip()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise HistoryLogError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise HistoryLogError(f"{path.name}: not valid TOML ({err})") from None


# -- values ---------------------------------------------------------------------------------------
_PATTERNS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def parse_instant(value: Any, zone: ZoneInfo, name: str, where: str) -> datetime:
    """An aware instant: offsets in the log are kept, naive times are read in ``zone``.

    Accepts ISO 8601 / RFC 3339 (XES), ``dd/mm/yyyy HH:MM[:SS]``, the portal's ``yyyyMMddHHmmss``
    and spreadsheet dates; anything else is a ``TraceProblem`` naming the field and the line."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise TraceProblem(f"missing {name}", f"{where}: missing {name}")
        parsed_or_none = _parse_text(text)
        if parsed_or_none is None:
            raise TraceProblem(f"unreadable {name}", f"{where}: {name} {text[:60]!r} is not a date and time "
                               "(expected e.g. 2026-03-02T08:15:00+07:00 or 02/03/2026 08:15)")
        parsed = parsed_or_none
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    if not 1970 <= parsed.year <= 2200:
        raise TraceProblem(f"unreadable {name}", f"{where}: {name} {parsed.isoformat()}: year out of range")
    return parsed


def _parse_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        pass
    for pattern in _PATTERNS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def text_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
