"""Case events of the contract (section 2): parsing and validation with clear errors.

A malformed event never raises anything but ``EventInvalid``, whose message names the
event (its id when it has one) and every problem found, so the caller can keep it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CASE_RECEIVED = "case.received"
STEP_STARTED = "step.started"
STEP_COMPLETED = "step.completed"
SUPPLEMENT_REQUESTED = "case.supplement_requested"
SUPPLEMENT_RECEIVED = "case.supplement_received"
SUSPENDED = "case.suspended"
RESUMED = "case.resumed"
EXTENDED = "case.extended"
RESULT_READY = "case.result_ready"
RETURNED = "case.returned"
WITHDRAWN = "case.withdrawn"
REJECTED = "case.rejected"
STOPPED = "case.stopped"

EVENT_TYPES: frozenset[str] = frozenset(
    {
        CASE_RECEIVED, STEP_STARTED, STEP_COMPLETED, SUPPLEMENT_REQUESTED, SUPPLEMENT_RECEIVED,
        SUSPENDED, RESUMED, EXTENDED, RESULT_READY, RETURNED, WITHDRAWN, REJECTED, STOPPED,
    }
)
STEP_EVENT_TYPES = frozenset({STEP_STARTED, STEP_COMPLETED})
CLOSING_TYPES = frozenset({RETURNED, WITHDRAWN, REJECTED, STOPPED})

MAX_TEXT = 500
# Instants outside these years are refused: beyond them time-zone arithmetic overflows (year 1 with a
# positive offset, 9999 with a negative one) and the legal calendar has no meaning.
MIN_YEAR, MAX_YEAR = 1970, 2200
# The electronic agency code of Decision 20/2020/QĐ-TTg: three levels of units, then the province
# (e.g. 000.00.12.H10). The JSON Schema, the API's models and the user scopes use this one pattern.
AGENCY_CODE_PATTERN = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$"
_AGENCY_CODE = re.compile(AGENCY_CODE_PATTERN)
# Identifiers compared as they are written: no surrounding whitespace, no control character, so
# that every check (a batch's agency scope, duplicate ids) sees the very string that is stored.
IDENTIFIER_FIELDS = ("event_id", "type", "case_id", "agency", "procedure", "step")
# What the store's columns hold: a nonconformity's key (400) is the case id, a name and sometimes the
# event id ("<case_id>:late_supplement_request:<event_id>"), so 200 + 25 + 175.
MAX_LENGTHS = {"event_id": 175, "case_id": 200, "procedure": 32, "step": 255}
# How deep an event's JSON may nest; deeper is refused before it is walked any further or stored.
MAX_NESTING = 32


class EventInvalid(ValueError):
    """The event cannot be applied as it stands; ``problems`` says why, field by field."""

    def __init__(self, problems: list[str], event_id: str | None = None, raw: Any = None):
        self.problems = problems
        self.event_id = event_id
        self.raw = raw
        name = f"event {event_id!r}" if event_id else "event without a usable event_id"
        super().__init__(f"{name}: " + "; ".join(problems))


@dataclass(frozen=True)
class CaseEvent:
    event_id: str
    type: str
    case_id: str
    agency: str
    procedure: str
    occurred_at: datetime
    step: str | None = None
    due_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    actor: dict[str, Any] | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "type": self.type,
            "case_id": self.case_id,
            "agency": self.agency,
            "procedure": self.procedure,
            "occurred_at": self.occurred_at.isoformat(),
        }
        if self.step is not None:
            out["step"] = self.step
        if self.due_at is not None:
            out["due_at"] = self.due_at.isoformat()
        if self.data:
            out["data"] = self.data
        if self.actor is not None:
            out["actor"] = self.actor
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    def fingerprint(self) -> str:
        """A hash of the fact the event reports: the same event sent again has the same one, whatever the
        order of its keys or the UTC offset its instants were written with.

        ``data``, ``actor`` and ``reason`` are left out: they annotate the fact, and a source may send
        them updated with a fact it repeats (the national portal re-sends earlier facts with the
        dossier's current data). Anything else that differs under one id is another event: a conflict.
        """
        content = self.to_dict()
        for annotation in ("data", "actor", "reason"):
            content.pop(annotation, None)
        content["occurred_at"] = self.occurred_at.astimezone(UTC).isoformat()
        if self.due_at is not None:
            content["due_at"] = self.due_at.astimezone(UTC).isoformat()
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def check_agency_code(code: str) -> str | None:
    """Why ``code`` is not an agency code, or None."""
    if _AGENCY_CODE.fullmatch(code):  # fullmatch: "$" alone would let a trailing newline through
        return None
    return f"agency {_show(code)} is not an agency code like 000.00.12.H10 (Decision 20/2020/QĐ-TTg)"


def parse_timestamp(value: Any, name: str, problems: list[str], bounded: bool = True) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name} must be an RFC 3339 timestamp with offset, got {_show(value)}")
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    except ValueError:
        problems.append(f"{name} is not an RFC 3339 timestamp: {_show(value)}")
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        problems.append(f"{name} has no UTC offset: {_show(value)} (write e.g. 2026-03-02T08:15:00+07:00)")
        return None
    if bounded and not MIN_YEAR <= parsed.year <= MAX_YEAR:
        problems.append(f"{name} {_show(value)}: the year must be between {MIN_YEAR} and {MAX_YEAR}")
        return None
    return parsed


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(obj: dict[str, Any], name: str, problems: list[str], required: bool, strict: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            problems.append(f"missing field {name!r}")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name} must be a non-empty string, got {_show(value)}")
        return None
    limit = MAX_LENGTHS.get(name, MAX_TEXT) if strict else MAX_TEXT
    if len(value) > limit:
        problems.append(f"{name} is longer than {limit} characters")
        return None
    if not strict:
        return value.strip()
    if value != value.strip():
        problems.append(f"{name} {_show(value)} has surrounding whitespace")
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        problems.append(f"{name} {_show(value)} contains a control character")
        return None
    return value


def unstorable(value: Any, path: str = "event", depth: int = 0) -> str | None:
    """Why ``value`` cannot be stored as text or JSON on every database, or None: text no database can
    keep (NUL, lone surrogates), numbers JSON cannot carry (NaN, Infinity), nesting beyond ``MAX_NESTING``.

    The one check for every way in (``parse_event``, and the API before it keeps a refused event's raw form)."""
    if depth > MAX_NESTING:
        return f"{path} is nested more than {MAX_NESTING} levels deep"
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path} contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path} contains an unpaired surrogate (not valid Unicode text)"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is not a finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = unstorable(key, f"{path} key", depth + 1) or unstorable(item, f"{path}.{key}", depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = unstorable(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
    return None


def parse_event(obj: Any, *, recorded: bool = False) -> CaseEvent:
    """Validate one decoded JSON value as a contract event.

    ``recorded``: the event was accepted earlier (a journal row being replayed), under the rules of
    its day; the checks added since (identifier form, agency code, years) are not made again, so
    that a case recorded before them still loads.
    """
    strict = not recorded
    if not isinstance(obj, dict):
        raise EventInvalid([f"an event must be a JSON object, got {type(obj).__name__}"], raw=obj)
    problem = unstorable(obj)
    if problem:
        raise EventInvalid([problem], event_id=_raw_id(obj) if not unstorable(obj.get("event_id")) else None,
                           raw=obj)
    problems: list[str] = []
    event_id = _text(obj, "event_id", problems, required=True, strict=strict)
    event_type = _text(obj, "type", problems, required=True, strict=strict)
    if event_type is not None and event_type not in EVENT_TYPES:
        problems.append(f"unknown type {event_type!r} (expected one of {', '.join(sorted(EVENT_TYPES))})")
    case_id = _text(obj, "case_id", problems, required=True, strict=strict)
    agency = _text(obj, "agency", problems, required=True, strict=strict)
    if agency is not None and strict:
        bad_code = check_agency_code(agency)
        if bad_code:
            problems.append(bad_code)
    procedure = _text(obj, "procedure", problems, required=True, strict=strict)
    occurred_at = None
    if "occurred_at" not in obj:
        problems.append("missing field 'occurred_at'")
    else:
        occurred_at = parse_timestamp(obj["occurred_at"], "occurred_at", problems, bounded=strict)
    step = _text(obj, "step", problems, required=event_type in STEP_EVENT_TYPES, strict=strict)
    due_at = None
    if obj.get("due_at") is not None:
        due_at = parse_timestamp(obj["due_at"], "due_at", problems, bounded=strict)
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        problems.append(f"data must be a JSON object, got {_show(data)}")
    actor = obj.get("actor")
    if actor is not None and not isinstance(actor, dict):
        problems.append(f"actor must be a JSON object like {{\"unit\": ..., \"officer\": ...}}, got {_show(actor)}")
    reason = obj.get("reason")
    if reason is not None and not isinstance(reason, str):
        problems.append(f"reason must be a string, got {_show(reason)}")
    if problems:
        raise EventInvalid(problems, event_id=event_id or _raw_id(obj), raw=obj)
    assert event_id and event_type and case_id and agency and procedure and occurred_at
    return CaseEvent(
        event_id=event_id,
        type=event_type,
        case_id=case_id,
        agency=agency,
        procedure=procedure,
        occurred_at=occurred_at,
        step=step,
        due_at=due_at,
        data=dict(data) if isinstance(data, dict) else {},
        actor=actor,
        reason=reason,
    )


def _raw_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("event_id")
    return str(value)[:200] if value not in (None, "") else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_event_line(line: str | bytes) -> CaseEvent:
    """Decode one JSON Lines record (or one Kafka message value) and validate it."""
    try:
        obj = json.loads(line, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise EventInvalid([f"not valid JSON: {err}"], raw=line) from None
    return parse_event(obj)
