"""A procedure drawn from a published step table (issue 13, item 3).

Agencies publish their internal procedures as step tables, one row per step: ``Bước`` (step), ``Nội dung
công việc`` (work), ``Trách nhiệm`` (responsible unit), ``Thời gian`` (time allowance), ``Kết quả`` (output),
sometimes ``Bước tiếp theo`` (next steps) and ``Điều kiện`` (condition). ``read_step_table`` reads such a
table from .xlsx or .csv; ``generate_bpmn`` draws it as a BPMN file eiso validates and deploys: one lane per
responsible unit, one user task per step with its ``deadline`` and ``unit``, an exclusive gateway where a row
names several next steps, and a diagram (pool, lanes, shapes, orthogonal edges) that opens in Camunda Modeler.

Branches: a row's ``Bước tiếp theo`` lists step numbers (``4, 6``) or ``Kết thúc`` (end); empty means the
next row (the last row: the end). Several next steps make an exclusive gateway; each target row's
``Điều kiện`` is the condition of the flow into it, in eiso's condition language (``hop_le == true``), or the
branching row's own cell gives them all (``3: hop_le == true; 5: khác``); at most one target may have none (or
``khác`` / ``còn lại``): it is the gateway's default flow. A step no row leads to, or one that never reaches the
end, is refused.

Times as published: ``0,5 ngày`` -> ``P0.5D``, ``04 giờ`` -> ``PT4H``, ``02 ngày làm việc`` -> ``P2D``, ``1/2 ngày``,
``08 giờ làm việc`` -> ``PT8H`` (hours stay hours), bare numbers when the heading names the unit ("Thời gian
(ngày)"); ``Không tính`` makes a step with ``counted=false`` (returning the result). A totals row ("Tổng thời
gian", "Tổng cộng") ends the table; its time, when it differs from the sum of the counted steps, is a warning
(``StepTable.warnings``), never a refusal. "Row N" is the spreadsheet's row (a CSV file's record).

Pure: reads files and returns bytes, writes nothing. Every refusal is a ``StepTableError`` naming the row.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from lxml import etree

from engine.core.durations import DurationError, parse_working_duration
from engine.core.expressions import ExpressionError, compile_condition
from engine.procedures.model import BPMN_NS, CAMUNDA_NS

__all__ = [
    "END",
    "StepRow",
    "StepTable",
    "StepTableError",
    "generate_bpmn",
    "parse_step_time",
    "read_step_table",
    "step_table_from_rows",
]

#: A next step that ends the procedure.
END = "end"

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MODELER_NS = "http://camunda.org/schema/modeler/1.0"
_NSMAP = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS, "xsi": XSI_NS,
          "camunda": CAMUNDA_NS, "modeler": MODELER_NS}

_MINUTES_PER_DAY = 8 * 60
#: What is read of a table: an ISO procedure is a few dozen steps (a procedure has at most 200 flow nodes).
_MAX_TABLE_BYTES = 5 * 1024 * 1024
_MAX_ROWS = 2000
_MAX_COLUMNS = 60


class StepTableError(ValueError):
    """The table cannot be made into a procedure; the message names the file and the row."""


@dataclass(frozen=True)
class StepRow:
    """One step of the table; ``row`` is its line in the file (1-based, as a spreadsheet numbers it)."""

    row: int
    number: str
    work: str
    unit: str
    time: str
    deadline: str | None  # eiso's working duration; None for a step outside the time limit
    minutes: int
    output: str = ""
    next_steps: tuple[str, ...] = ()  # step numbers or END; empty: the next row
    condition: str = ""

    @property
    def counted(self) -> bool:
        return self.deadline is not None


@dataclass(frozen=True)
class StepTable:
    source: str
    steps: tuple[StepRow, ...]
    total: str | None = None  # the totals row's time as a working duration
    total_row: int | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def counted_minutes(self) -> int:
        return sum(step.minutes for step in self.steps if step.counted)

    @property
    def sum_duration(self) -> str:
        return _format_minutes(self.counted_minutes, days=True)


# -- text -------------------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case, no diacritics (đ -> d), single spaces: how headings and keywords are compared."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w/]+", " ", text.lower()).split())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


# -- time allowances --------------------------------------------------------------------------------------

_NUMBER = r"\d+(?:[.,]\d+)?(?:\s*/\s*\d+)?"
_AMOUNT = re.compile(rf"({_NUMBER})\s*(ngay|gio|h|phut)\b")
_NOT_COUNTED = ("khong tinh", "khong tinh thoi gian", "khong tinh vao thoi gian")
_FILLER = re.compile(r"\b(lam viec|lv|thuc hien|tinh tu|tro len|khoang|trong)\b")


def _number(text: str) -> Fraction:
    text = text.replace(" ", "")
    if "/" in text:
        top, bottom = text.split("/", 1)
        return Fraction(Decimal(top.replace(",", "."))) / Fraction(int(bottom))
    return Fraction(Decimal(text.replace(",", ".")))


def _format_minutes(minutes: int, *, days: bool) -> str:
    """``P0.5D``, ``P2D``, ``PT4H``, ``PT1H30M``, ``P1DT2H``: days when written in days and whole half-days."""
    if minutes == 0:
        return "P0D" if days else "PT0H"
    if days and minutes % (_MINUTES_PER_DAY // 2) == 0:
        count = Fraction(minutes, _MINUTES_PER_DAY)
        shown = str(count.numerator) if count.denominator == 1 else str(float(count))
        return f"P{shown}D"
    whole_days, rest = divmod(minutes, _MINUTES_PER_DAY) if days else (0, minutes)
    hours, mins = divmod(rest, 60)
    text = "P" + (f"{whole_days}D" if whole_days else "")
    if hours or mins:
        text += "T" + (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return text


def parse_step_time(text: str) -> tuple[str | None, int]:
    """``(duration, working minutes)`` of a published allowance; ``(None, 0)`` for "không tính".

    Accepts ``0,5 ngày``, ``04 giờ``, ``02 ngày làm việc``, ``1/2 ngày``, ``08 giờ làm việc``, ``1 ngày 4 giờ``,
    ``30 phút`` and eiso's own ``P0.5D`` / ``PT4H``; raises ``ValueError`` with the reason otherwise.
    """
    raw = " ".join(text.split())
    if not raw:
        raise ValueError("no time given")
    if raw.upper().startswith("P"):
        try:
            seconds = parse_working_duration(raw)
        except DurationError as err:
            raise ValueError(str(err)) from None
        return raw.upper(), seconds // 60
    folded = _fold(raw)
    if any(folded.startswith(words) for words in _NOT_COUNTED):
        return None, 0
    # _fold keeps '/', turns the decimal comma into a space: read numbers from the original spelling
    plain = unicodedata.normalize("NFD", raw.replace("đ", "d").replace("Đ", "D")).lower()
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    spelled = " ".join(re.sub(r"[^\w/,.]+", " ", plain).split())
    spelled = _FILLER.sub(" ", spelled)
    amounts = list(_AMOUNT.finditer(spelled))
    rest = _AMOUNT.sub(" ", spelled).replace(",", " ").replace(".", " ").strip()
    if not amounts or rest:
        raise ValueError(f"unreadable time {raw!r}: expected e.g. '0,5 ngày', '04 giờ', '02 ngày làm việc'")
    total = Fraction(0)
    in_days = False
    for match in amounts:
        try:
            value = _number(match.group(1))
        except (InvalidOperation, ValueError, ZeroDivisionError):
            raise ValueError(f"unreadable number {match.group(1)!r} in {raw!r}") from None
        unit = match.group(2)
        if unit == "ngay":
            in_days = True
            total += value * _MINUTES_PER_DAY
        elif unit in ("gio", "h"):
            total += value * 60
        else:
            total += value
    if total.denominator != 1:
        raise ValueError(f"time {raw!r} is not a whole number of working minutes")
    minutes = int(total)
    duration = _format_minutes(minutes, days=in_days)
    try:
        parse_working_duration(duration)
    except DurationError as err:
        raise ValueError(str(err)) from None
    return duration, minutes


# -- reading the table ------------------------------------------------------------------------------------

_HEADINGS: dict[str, tuple[str, ...]] = {
    "next": ("buoc tiep theo", "buoc ke tiep", "chuyen den buoc", "chuyen buoc", "buoc sau"),
    "condition": ("dieu kien",),
    "number": ("buoc", "tt", "stt", "so tt", "buoc thuc hien", "thu tu"),
    "work": ("noi dung cong viec", "noi dung", "cong viec", "noi dung thuc hien"),
    "unit": ("trach nhiem", "don vi thuc hien", "bo phan thuc hien", "nguoi thuc hien", "can bo thuc hien",
             "bo phan/nguoi thuc hien", "don vi/ca nhan thuc hien", "don vi chu tri", "trach nhiem thuc hien"),
    "time": ("thoi gian", "thoi gian thuc hien", "thoi han", "thoi gian giai quyet"),
    "output": ("ket qua", "bieu mau/ket qua", "ket qua/bieu mau", "bieu mau", "san pham"),
}
_PREFIX_KINDS = ("next", "condition", "work", "unit", "time", "output")
_TOTALS = ("tong thoi gian", "tong cong", "tong so ngay", "tong so thoi gian", "tong so gio")
_DEFAULT_WORDS = ("khac", "con lai", "nguoc lai", "truong hop khac", "mac dinh", "otherwise", "default")
_END_WORDS = ("ket thuc", "end", "het", "hoan thanh")
_BARE_NUMBER = re.compile(r"\d+(?:[.,]\d+)?|\d+\s*/\s*\d+")


def _heading_kind(text: str) -> str | None:
    folded = _fold(text)
    if not folded:
        return None
    for kind, names in _HEADINGS.items():
        if folded in names:
            return kind
    for kind in _PREFIX_KINDS:  # "Thời gian thực hiện (ngày làm việc)", "Trách nhiệm thực hiện"
        if any(folded.startswith(name + " ") for name in _HEADINGS[kind]):
            return kind
    return None


def _header_columns(row: Sequence[str]) -> dict[str, int] | None:
    columns: dict[str, int] = {}
    for index, text in enumerate(row):
        kind = _heading_kind(text)
        if kind is not None and kind not in columns:
            columns[kind] = index
    return columns if {"work", "unit", "time"} <= columns.keys() else None


def read_step_table(path: str | Path) -> StepTable:
    """The step table in ``path`` (.xlsx, or .csv in UTF-8 with ``;`` or ``,``); ``StepTableError`` if not one."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
        if size > _MAX_TABLE_BYTES:
            raise StepTableError(f"{path.name}: file is too large ({size:,} bytes; a step table is at most "
                                 f"{_MAX_TABLE_BYTES:,})")
        if suffix in (".xlsx", ".xlsm"):
            rows = _xlsx_rows(path)
        elif suffix in (".csv", ".txt"):
            rows = _csv_rows(path.read_bytes(), path.name)
        else:
            raise StepTableError(f"{path.name}: not a step table: expected a .xlsx or .csv file")
    except OSError as err:
        raise StepTableError(f"{path.name}: cannot read the file: {err.strerror or err}") from None
    return step_table_from_rows(rows, path.name)


def _csv_rows(data: bytes, name: str) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise StepTableError(f"{name}: not UTF-8 text (byte {err.start}); save the table as CSV UTF-8") from None
    lines = [line for line in text.splitlines() if line.strip()][:20]
    counts = {sep: sum(line.count(sep) for line in lines) for sep in (";", ",", "\t")}
    parsed: list[list[str]] = []
    # the separator whose reading has a header row (Excel writes ';' where the decimal mark is ',')
    for delimiter in sorted(counts, key=lambda sep: -counts[sep]):
        try:
            parsed = [[_cell(value) for value in row]
                      for row in itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), _MAX_ROWS)]
        except csv.Error as err:
            raise StepTableError(f"{name}: not a readable CSV table ({err})") from None
        if any(_header_columns(row) is not None for row in parsed):
            break
    return parsed


def _xlsx_rows(path: Path) -> list[list[str]]:
    """The cells of the first sheet with a header row (the active one first), merged cells spread out."""
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=False, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise StepTableError(f"{path.name}: not a readable .xlsx workbook ({err})") from None
    try:
        sheets = [book.active, *book.worksheets]
        found: list[list[str]] = []
        for sheet in sheets:
            if sheet is None or not hasattr(sheet, "merged_cells"):
                continue
            rows = [[_cell(value) for value in row] for row in sheet.iter_rows(
                min_row=1, min_col=1, max_row=min(sheet.max_row, _MAX_ROWS),
                max_col=min(sheet.max_column, _MAX_COLUMNS), values_only=True)]
            # a merged cell holds its value in its top-left cell only: spread it over the range
            for merged in sheet.merged_cells.ranges:
                if merged.min_row > len(rows) or merged.min_col > len(rows[merged.min_row - 1]):
                    continue
                value = rows[merged.min_row - 1][merged.min_col - 1]
                for r in range(merged.min_row, min(merged.max_row, len(rows)) + 1):
                    for c in range(merged.min_col, min(merged.max_col, len(rows[r - 1])) + 1):
                        rows[r - 1][c - 1] = value
            if any(_header_columns(row) is not None for row in rows):
                return rows
            found = found or rows
        return found
    finally:
        book.close()


def _get(row: Sequence[str], columns: dict[str, int], kind: str) -> str:
    index = columns.get(kind)
    return row[index] if index is not None and index < len(row) else ""


def _number_label(text: str) -> str:
    """``Bước 4`` / ``4.`` / ``04`` -> ``4``; ``2.1`` and ``2a`` stay as written."""
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D")).lower()
    plain = " ".join("".join(ch for ch in plain if not unicodedata.combining(ch)).split())
    plain = re.sub(r"^buoc\s*", "", plain).strip(" .:")
    return re.sub(r"^0+(?=\d)", "", plain)


def step_table_from_rows(rows: Sequence[Sequence[str]], source: str) -> StepTable:
    """The table in ``rows`` (cells as text), found by its heading row; ``source`` names it in messages."""
    header_at, columns = None, None
    for index, row in enumerate(rows):
        columns = _header_columns(row)
        if columns is not None:
            header_at = index
            break
    if header_at is None or columns is None:
        raise StepTableError(f"{source}: no header row found: expected the headings 'Nội dung công việc', "
                             "'Trách nhiệm' and 'Thời gian' (with 'Bước' or 'TT')")
    heading = _fold(_get(rows[header_at], columns, "time"))
    bare = "giờ" if re.search(r"\b(gio|h)\b", heading) else "ngày" if "ngay" in heading else None
    steps: list[StepRow] = []
    warnings: list[str] = []
    total: str | None = None
    total_row: int | None = None
    total_minutes: int | None = None
    for offset, row in enumerate(rows[header_at + 1 :]):
        line = header_at + offset + 2
        if not any(cell.strip() for cell in row):
            continue
        folded_cells = [_fold(cell) for cell in row if cell.strip()]
        if any(_is_total(cell) for cell in folded_cells):
            total_row = line
            total, total_minutes = _total(row, columns, bare, f"{source}: row {line} (totals)")
            break
        if all(_heading_kind(cell) is not None for cell in row if cell.strip()):
            continue  # a repeated heading, or the "(1) (2) (3)" numbering row some tables have
        if all(re.fullmatch(r"\(?\d+\)?", cell.strip()) for cell in row if cell.strip()) and len(
                [c for c in row if c.strip()]) > 2:
            continue
        steps.append(_step_row(row, columns, line, len(steps) + 1, source, bare))
    if not steps:
        raise StepTableError(f"{source}: the table has no steps below its header row (row {header_at + 1})")
    numbers: dict[str, StepRow] = {}
    for step in steps:
        if step.number in numbers:
            raise StepTableError(f"{source}: row {step.row}: step {step.number!r} is also row "
                                 f"{numbers[step.number].row}'s number; each step needs its own")
        numbers[step.number] = step
    for step in steps:
        for target in step.next_steps:
            if target != END and target not in numbers:
                raise StepTableError(f"{source}: row {step.row}: next step {target!r} names no step of the table "
                                     f"(steps: {', '.join(numbers)})")
    table = StepTable(source, tuple(steps), total, total_row, ())
    if total_minutes is not None and total_minutes != table.counted_minutes:
        warnings.append(f"{source}: row {total_row}: the total {total} does not match the sum of the steps' times "
                        f"{table.sum_duration}")
    flows = _flows(table)  # refuse bad branches now, with their row
    branched = {flow.target for flow in flows if flow.source.startswith("gw:")}
    for step in steps:
        if (step.condition and step.number not in branched and not _is_default(step.condition)
                and _branch_conditions(step, step.next_steps) is None):
            warnings.append(f"{source}: row {step.row}: the condition {step.condition!r} is not used: no row "
                            f"branches to step {step.number} ('Bước tiếp theo' naming several steps)")
    return StepTable(source, tuple(steps), total, total_row, tuple(warnings))


def _is_total(folded: str) -> bool:
    """"Tổng thời gian", "Tổng cộng", "Tổng": the totals row (not "Tổng hợp hồ sơ", a step's work)."""
    return folded in ("tong", "cong") or folded.startswith(_TOTALS)


def _with_unit(text: str, bare: str | None) -> str:
    """A bare number under a heading that says its unit ("Thời gian (ngày)"): ``0,5`` -> ``0,5 ngày``."""
    return f"{text} {bare}" if bare and _BARE_NUMBER.fullmatch(text.strip()) else text


def _total(row: Sequence[str], columns: dict[str, int], bare: str | None, label: str) -> tuple[str | None, int | None]:
    """The totals row's time: in the time column, else in whichever cell holds a readable time."""
    written = _get(row, columns, "time")
    if written and not _is_total(_fold(written)):  # not the "Tổng thời gian" of a merged cell
        try:
            return parse_step_time(_with_unit(written, bare))
        except ValueError as err:
            raise StepTableError(f"{label}: {err}") from None
    for cell in row:
        try:
            duration, minutes = parse_step_time(cell)
        except ValueError:
            continue
        if duration is not None:
            return duration, minutes
    return None, None


def _step_row(row: Sequence[str], columns: dict[str, int], line: int, ordinal: int, source: str,
              bare: str | None = None) -> StepRow:
    number = _number_label(_get(row, columns, "number")) if "number" in columns else ""
    work = _get(row, columns, "work")
    unit = _get(row, columns, "unit")
    time_text = _get(row, columns, "time")
    label = f"{source}: row {line}" + (f" (step {number})" if number else "")
    if not work:
        raise StepTableError(f"{label}: no work ('Nội dung công việc') given")
    if not unit:
        raise StepTableError(f"{label}: no responsible unit ('Trách nhiệm') given")
    if not time_text:
        raise StepTableError(f"{label}: no time ('Thời gian') given; write 'không tính' for a step outside "
                             "the time limit")
    try:
        deadline, minutes = parse_step_time(_with_unit(time_text, bare))
    except ValueError as err:
        raise StepTableError(f"{label}: {err}") from None
    next_steps: tuple[str, ...] = ()
    next_text = _get(row, columns, "next")
    if next_text.strip():
        found: list[str] = []
        for piece in re.split(r"[,;/\n]", next_text):
            if not _fold(piece):
                continue
            found.append(END if _fold(piece) in _END_WORDS else _number_label(piece))
        next_steps = tuple(dict.fromkeys(found))
    condition = _get(row, columns, "condition").strip()
    return StepRow(line, number or str(ordinal), work, unit, time_text, deadline, minutes,
                   _get(row, columns, "output"), next_steps, condition)


# -- the flows --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Flow:
    source: str  # a step number, "start", or "gw:<number>"
    target: str  # a step number or END
    condition: str | None = None
    default: bool = False


def _targets(table: StepTable, index: int) -> tuple[str, ...]:
    step = table.steps[index]
    if step.next_steps:
        return step.next_steps
    return (table.steps[index + 1].number,) if index + 1 < len(table.steps) else (END,)


def _is_default(condition: str) -> bool:
    return not condition or _fold(condition) in _DEFAULT_WORDS


_PAIR = re.compile(r"\s*(?:b\w*\s*)?(\d[\w.]*)\s*:\s*(.+?)\s*", re.IGNORECASE)


def _branch_conditions(step: StepRow, targets: Sequence[str]) -> dict[str, str] | None:
    """Conditions written on the branching row itself, ``3: hop_le == true; 5: khác``, or None.

    Only when every ``;``-separated piece names one of the row's next steps; otherwise the cell is the row's
    own condition (of the flow into it).
    """
    pairs: dict[str, str] = {}
    for piece in step.condition.split(";"):
        if not piece.strip():
            continue
        match = _PAIR.fullmatch(piece)
        if match is None or _number_label(match.group(1)) not in targets:
            return None
        pairs[_number_label(match.group(1))] = match.group(2)
    return pairs or None


def _flows(table: StepTable) -> list[_Flow]:
    by_number = {step.number: step for step in table.steps}
    flows = [_Flow("start", table.steps[0].number)]
    for index, step in enumerate(table.steps):
        targets = _targets(table, index)
        if len(targets) == 1:
            flows.append(_Flow(step.number, targets[0]))
            continue
        gateway = f"gw:{step.number}"
        flows.append(_Flow(step.number, gateway))
        written = _branch_conditions(step, targets)
        conditions = {t: (written or {}).get(t, by_number[t].condition) for t in targets if t != END}
        defaults = [t for t in targets if t == END or _is_default(conditions[t])]
        if len(defaults) > 1:
            shown = ", ".join("the end" if t == END else f"step {t}" for t in defaults)
            raise StepTableError(f"{table.source}: row {step.row}: next steps {shown} have no condition "
                                 "('Điều kiện'): at most one of the steps a row branches to may go without one "
                                 "(the default)")
        for target in targets:
            if target in defaults:
                flows.append(_Flow(gateway, target, None, default=True))
                continue
            row = step if written and target in written else by_number[target]
            text = conditions[target].strip()
            try:
                compile_condition(text)
            except ExpressionError as err:
                raise StepTableError(f"{table.source}: row {row.row} (step {row.number}): condition {text!r} is "
                                     f"refused: {err} (write it in eiso's condition language, e.g. "
                                     "hop_le == true)") from None
            flows.append(_Flow(gateway, target, text))
    reached = {flow.target for flow in flows}
    for step in table.steps:
        if step.number not in reached:
            raise StepTableError(f"{table.source}: row {step.row}: step {step.number} is never reached: no row "
                                 "leads to it ('Bước tiếp theo')")
    ending = {END}
    grew = True
    while grew:  # the steps from which the end can be reached (a table is a few dozen rows)
        before = len(ending)
        ending |= {flow.source.removeprefix("gw:") for flow in flows if flow.target in ending}
        ending |= {flow.source for flow in flows if flow.target in ending}
        grew = len(ending) > before
    for step in table.steps:
        if step.number not in ending:
            raise StepTableError(f"{table.source}: row {step.row}: step {step.number} never reaches the end: its "
                                 "next steps ('Bước tiếp theo') go round in a loop")
    return flows


# -- the BPMN file ----------------------------------------------------------------------------------------

_LANE_HEIGHT = 150
_POOL_X, _POOL_Y, _POOL_LABEL = 150, 80, 30
_FIRST_X = 240
_GAP = 50
_SIZES = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50)}


def _safe_id(text: str) -> str:
    folded = _fold(text)
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", folded).strip("_")
    return cleaned or "x"


@dataclass
class _Node:
    key: str
    element_id: str
    kind: str  # task, event, gateway
    lane: int
    column: int
    x: int = 0
    y: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return _SIZES[self.kind]

    @property
    def center_y(self) -> int:
        return self.y + self.size[1] // 2

    @property
    def right(self) -> int:
        return self.x + self.size[0]


@dataclass(frozen=True)
class _Drawing:
    """What the process and its diagram are drawn from."""

    table: StepTable
    flows: list[_Flow]
    flow_ids: list[str]
    nodes: dict[str, _Node]
    units: list[str]
    suffix: str


def generate_bpmn(table: StepTable, code: str, limit: str, name: str | None = None) -> bytes:
    """The BPMN file of ``table`` as procedure ``code`` with statutory limit ``limit`` (e.g. ``P10D``)."""
    flows = _flows(table)
    units = list(dict.fromkeys(step.unit for step in table.steps))
    nodes = _layout(table, flows, {unit: index for index, unit in enumerate(units)})
    flow_ids = [f"flow_{nodes[f.source].element_id}_to_{nodes[f.target].element_id}" for f in flows]
    drawing = _Drawing(table, flows, flow_ids, nodes, units, _safe_id(code))
    title = name or f"Thủ tục {code}"
    root = etree.Element(_q(BPMN_NS, "definitions"), nsmap=_NSMAP)
    root.set("id", f"definitions_{drawing.suffix}")
    root.set("targetNamespace", "https://eiso.example/bpmn/procedures")
    root.set("exporter", "eiso procedures generate")
    root.set("exporterVersion", "0.1.0")
    root.set(_q(MODELER_NS, "executionPlatform"), "Camunda Platform")
    root.set(_q(MODELER_NS, "executionPlatformVersion"), "7.21.0")
    collaboration = _sub(root, "collaboration", id=f"collaboration_{drawing.suffix}")
    _sub(collaboration, "participant", id=f"pool_{drawing.suffix}", name=title, processRef=f"tthc_{drawing.suffix}")
    _process(root, drawing, code, limit, title)
    _diagram(root, drawing)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _layout(table: StepTable, flows: list[_Flow], lane_of: dict[str, int]) -> dict[str, _Node]:
    """One column per element in table order (a row's gateway right after it), each in its unit's lane."""
    nodes: dict[str, _Node] = {}
    column = 0
    nodes["start"] = _Node("start", "dossier_received", "event", lane_of[table.steps[0].unit], column)
    used_ids = {"dossier_received", "procedure_end"}
    for step in table.steps:
        column += 1
        step_id = f"step_{_safe_id(step.number)}"
        while step_id in used_ids:
            step_id += "_"
        used_ids.add(step_id)
        nodes[step.number] = _Node(step.number, step_id, "task", lane_of[step.unit], column)
        if any(flow.source == f"gw:{step.number}" for flow in flows):
            column += 1
            nodes[f"gw:{step.number}"] = _Node(f"gw:{step.number}", f"{step_id}_gateway", "gateway",
                                               lane_of[step.unit], column)
    column += 1
    nodes[END] = _Node(END, "procedure_end", "event", lane_of[table.steps[-1].unit], column)
    x = _FIRST_X
    for node in sorted(nodes.values(), key=lambda n: n.column):
        width, height = node.size
        node.x = x
        node.y = _POOL_Y + node.lane * _LANE_HEIGHT + (_LANE_HEIGHT - height) // 2
        x += width + _GAP
    return nodes


def _process(root: etree._Element, drawing: _Drawing, code: str, limit: str, title: str) -> None:
    table, nodes = drawing.table, drawing.nodes
    pairs = list(zip(drawing.flows, drawing.flow_ids, strict=True))
    process = _sub(root, "process", id=f"tthc_{drawing.suffix}", name=title, isExecutable="true")
    documentation = f"Generated from the step table {table.source}."
    if table.total:
        documentation += f" Total time in the table: {table.total}."
    _sub(process, "documentation").text = documentation
    _properties(process, [("procedureCode", code), ("statutoryLimit", limit)])
    lane_set = _sub(process, "laneSet", id=f"laneset_{drawing.suffix}")
    for index, unit in enumerate(drawing.units):
        lane = _sub(lane_set, "lane", id=f"lane_{index + 1}", name=unit)
        for node in nodes.values():
            if node.lane == index:
                _sub(lane, "flowNodeRef").text = node.element_id
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for flow, flow_id in pairs:
        outgoing.setdefault(flow.source, []).append(flow_id)
        incoming.setdefault(flow.target, []).append(flow_id)

    def refs(element: etree._Element, key: str) -> None:
        for flow_id in incoming.get(key, []):
            _sub(element, "incoming").text = flow_id
        for flow_id in outgoing.get(key, []):
            _sub(element, "outgoing").text = flow_id

    refs(_sub(process, "startEvent", id="dossier_received", name="Tiếp nhận hồ sơ"), "start")
    for step in table.steps:
        task = _sub(process, "userTask", id=nodes[step.number].element_id, name=step.work)
        text = f"Bước {step.number}. Thời gian: {step.time}."
        if step.output:
            text += f" Kết quả: {step.output}."
        _sub(task, "documentation").text = text
        items = [("deadline", step.deadline)] if step.deadline else []
        items.append(("unit", step.unit))
        if not step.counted:
            items.append(("counted", "false"))
        _properties(task, items)
        refs(task, step.number)
        key = f"gw:{step.number}"
        if key in nodes:
            gateway = _sub(process, "exclusiveGateway", id=nodes[key].element_id,
                           name=f"Bước {step.number}: chuyển bước")
            for flow, flow_id in pairs:
                if flow.source == key and flow.default:
                    gateway.set("default", flow_id)
            refs(gateway, key)
    refs(_sub(process, "endEvent", id="procedure_end", name="Kết thúc"), END)
    for flow, flow_id in pairs:
        element = _sub(process, "sequenceFlow", id=flow_id, sourceRef=nodes[flow.source].element_id,
                       targetRef=nodes[flow.target].element_id)
        if flow.condition:
            element.set("name", flow.condition)
            expression = _sub(element, "conditionExpression")
            expression.set(_q(XSI_NS, "type"), "bpmn:tFormalExpression")
            expression.text = flow.condition
        elif flow.default:
            element.set("name", "Trường hợp khác")


def _diagram(root: etree._Element, drawing: _Drawing) -> None:
    nodes, suffix = drawing.nodes, drawing.suffix
    pool_width = max(node.right for node in nodes.values()) + _GAP - _POOL_X
    diagram = etree.SubElement(root, _q(BPMNDI_NS, "BPMNDiagram"), id=f"diagram_{suffix}")
    plane = etree.SubElement(diagram, _q(BPMNDI_NS, "BPMNPlane"), id=f"plane_{suffix}",
                             bpmnElement=f"collaboration_{suffix}")
    _shape(plane, f"pool_{suffix}", _POOL_X, _POOL_Y, pool_width, _LANE_HEIGHT * len(drawing.units))
    for index in range(len(drawing.units)):
        _shape(plane, f"lane_{index + 1}", _POOL_X + _POOL_LABEL, _POOL_Y + index * _LANE_HEIGHT,
               pool_width - _POOL_LABEL, _LANE_HEIGHT)
    for node in nodes.values():
        width, height = node.size
        shape = _shape(plane, node.element_id, node.x, node.y, width, height, horizontal=None)
        if node.kind != "task":  # events' and gateways' names sit below them, as the modeller puts them
            label = etree.SubElement(shape, _q(BPMNDI_NS, "BPMNLabel"))
            etree.SubElement(label, _q(DC_NS, "Bounds"), x=str(node.x + width // 2 - 45), y=str(node.y + height + 5),
                             width="90", height="27")
    for flow, flow_id in zip(drawing.flows, drawing.flow_ids, strict=True):
        edge = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNEdge"), id=f"{flow_id}_di", bpmnElement=flow_id)
        for px, py in _route(nodes[flow.source], nodes[flow.target]):
            etree.SubElement(edge, _q(DI_NS, "waypoint"), x=str(px), y=str(py))


def _route(source: _Node, target: _Node) -> list[tuple[int, int]]:
    """Orthogonal waypoints, right side of the source to left side of the target.

    Next column: across the gap between them. Further right: along the top margin of the target's lane (above
    its shapes). Back to the left (a loop): along the bottom margin of the source's lane (below its shapes).
    Vertical segments run in the 50-pixel gaps between columns, where no shape is: an edge to the next column in
    the middle of the gap, a longer edge at a quarter of it after its source or before its target.
    """
    sx, sy = source.right, source.center_y
    tx, ty = target.x, target.center_y
    if target.column == source.column + 1:
        if sy == ty:
            return [(sx, sy), (tx, ty)]
        middle = sx + _GAP // 2
        return [(sx, sy), (middle, sy), (middle, ty), (tx, ty)]
    # leaving and arriving edges take different tracks in a gap, apart from the middle one of next columns
    out, into = sx + _GAP // 4, tx - _GAP // 4
    if target.column > source.column:
        corridor = _POOL_Y + target.lane * _LANE_HEIGHT + 15
    else:
        corridor = _POOL_Y + (source.lane + 1) * _LANE_HEIGHT - 15
    return [(sx, sy), (out, sy), (out, corridor), (into, corridor), (into, ty), (tx, ty)]


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def _sub(parent: etree._Element, local: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, _q(BPMN_NS, local), {k: v for k, v in attributes.items()})


def _properties(element: etree._Element, items: list[tuple[str, str]]) -> None:
    extensions = _sub(element, "extensionElements")
    holder = etree.SubElement(extensions, _q(CAMUNDA_NS, "properties"))
    for key, value in items:
        etree.SubElement(holder, _q(CAMUNDA_NS, "property"), name=key, value=value)


def _shape(plane: etree._Element, element_id: str, x: int, y: int, width: int, height: int,
           horizontal: bool | None = True) -> etree._Element:
    shape = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNShape"), id=f"{element_id}_di", bpmnElement=element_id)
    if horizontal:
        shape.set("isHorizontal", "true")
    etree.SubElement(shape, _q(DC_NS, "Bounds"), x=str(x), y=str(y), width=str(width), height=str(height))
    return shape
