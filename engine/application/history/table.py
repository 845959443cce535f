"""A streaming CSV/XLSX reader of dossier history: rows grouped into traces, memory bounded.

A row is one event; the case id column groups them. By default the rows are spilled to a temporary
SQLite file and read back case by case, so a log in any row order is grouped without holding it
(``grouped=True`` skips that when the export keeps each case's rows together: a case whose rows
come back after another case's is then refused, not merged). CSV: UTF-8 (with or without a BOM),
else Windows-1258 (Vietnamese exports); the delimiter is the heading row's (``,``, ``;``, tab, ``|``).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sqlite3
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from engine.application.history.log import HistoryLogError, LogEvent, Trace, TraceProblem
from engine.application.history.mapping import ColumnMapping, aliased_headings

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 1 << 20
SPILL_BATCH = 5000


def is_table(path: Path) -> bool:
    return path.suffix.lower() in (".csv", ".txt", ".xlsx", ".xlsm")


def read_table(path: Path, columns: ColumnMapping, progress: Callable[[int], None] | None = None,
               grouped: bool = False, encoding: str | None = None) -> Iterator[Trace]:
    """The file's cases, each with its rows in file order."""
    rows = _rows(path, columns, progress, encoding)
    yield from (_grouped(rows) if grouped else _spilled(rows))


# -- rows -------------------------------------------------------------------------------------------
Row = tuple[str, dict[str, Any], str]  # case id, values by heading, where


def _rows(path: Path, columns: ColumnMapping, progress: Callable[[int], None] | None,
          encoding: str | None) -> Iterator[Row]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        lines: Iterable[tuple[int, list[Any]]] = _xlsx_lines(path)
        yield from _keyed(lines, path.name, columns, None)
        return
    with path.open("rb") as raw:
        chosen = encoding or _sniff_encoding(raw.read(SNIFF_BYTES))
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding=chosen, errors="strict", newline="")
        yield from _keyed(_csv_lines(text, path.name, chosen), path.name, columns,
                          (lambda: progress(raw.tell())) if progress else None)


def _sniff_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut by the sniff's end
            return "cp1258"
    return "utf-8-sig"


def _csv_lines(text: IO[str], name: str, encoding: str) -> Iterator[tuple[int, list[Any]]]:
    try:
        heading = text.readline()
        delimiter = max(DELIMITERS, key=lambda d: (heading.count(d), d == ","))
        yield 1, next(csv.reader([heading], delimiter=delimiter), [])
        reader = csv.reader(text, delimiter=delimiter)
        for values in reader:
            yield reader.line_num + 1, values
    except UnicodeDecodeError as err:
        raise HistoryLogError(f"{name}: not {encoding} text ({err.reason}); give --encoding "
                              "(utf-8, cp1258)") from None
    except csv.Error as err:
        raise HistoryLogError(f"{name}: unreadable CSV ({err})") from None


def _xlsx_lines(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a file that is not a workbook
        raise HistoryLogError(f"{path.name}: not a readable XLSX workbook ({type(err).__name__})") from None
    try:
        for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        book.close()


def _keyed(lines: Iterable[tuple[int, list[Any]]], name: str, columns: ColumnMapping,
           tick: Callable[[], Any] | None) -> Iterator[Row]:
    headings: list[str] | None = None
    for number, values in lines:
        if headings is None:
            headings = aliased_headings([_nfc(str(v)).strip() if v is not None else "" for v in values], columns)
            missing = [c for c in (columns.case_id, columns.activity, columns.timestamp) if c not in headings]
            if missing:
                shown = ", ".join(repr(h) for h in headings[:12]) or "nothing"
                raise HistoryLogError(f"{name}: the heading row has no column {', '.join(map(repr, missing))} "
                                      f"(found {shown}); map the columns with --columns, or check the delimiter "
                                      "and encoding")
            continue
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        row = {h: _nfc(v) for h, v in zip(headings, values, strict=False) if h and v is not None and v != ""}
        case_id = row.get(columns.case_id)
        yield (str(case_id).strip() if case_id is not None else ""), row, f"line {number}"
        if tick is not None and number % 1000 == 0:
            tick()
    if headings is None:
        raise HistoryLogError(f"{name}: empty file (no heading row)")


# -- grouping ---------------------------------------------------------------------------------------
def _grouped(rows: Iterable[Row]) -> Iterator[Trace]:
    done: set[str] = set()
    current: Trace | None = None
    for case_id, values, where in rows:
        if current is not None and case_id == current.case_id:
            current.events.append(LogEvent(values, where))
            continue
        if current is not None:
            done.add(current.case_id)
            yield current
        current = Trace(case_id, where, events=[LogEvent(values, where)])
        if case_id in done:
            current.problem = TraceProblem("case rows not together", f"{where}: case {case_id!r} has rows after "
                                           "another case's; read the file without --grouped")
    if current is not None:
        yield current


def _spilled(rows: Iterable[Row]) -> Iterator[Trace]:
    with tempfile.TemporaryDirectory(prefix="eiso-history-") as folder:
        db = sqlite3.connect(Path(folder) / "rows.db")
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("CREATE TABLE row (case_id TEXT NOT NULL, seq INTEGER NOT NULL, where_ TEXT, value TEXT)")
            batch: list[tuple[str, int, str, str]] = []
            for seq, (case_id, values, where) in enumerate(rows):
                batch.append((case_id, seq, where, json.dumps(values, default=_jsonable, ensure_ascii=False)))
                if len(batch) >= SPILL_BATCH:
                    db.executemany("INSERT INTO row VALUES (?, ?, ?, ?)", batch)
                    batch = []
            db.executemany("INSERT INTO row VALUES (?, ?, ?, ?)", batch)
            db.execute("CREATE INDEX ix_row ON row (case_id, seq)")
            current: Trace | None = None
            for case_id, _seq, where, value in db.execute("SELECT * FROM row ORDER BY case_id, seq"):
                if current is not None and case_id == current.case_id:
                    current.events.append(LogEvent(json.loads(value), where))
                    continue
                if current is not None:
                    yield current
                current = Trace(case_id, where, events=[LogEvent(json.loads(value), where)])
            if current is not None:
                yield current
        finally:
            db.close()


def _nfc(value: Any) -> Any:
    """Text in composed form: Windows-1258 decodes Vietnamese tone marks as combining characters."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
