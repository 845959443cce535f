"""Reading the rows of a table file (CSV, XLSX or JSON) that an import checks row by row.

The catalogue import (``engine.application.catalogue``) and the agency code history import
(``engine.application.agencies``) read their files the same way: a heading row (up to
``MAX_TITLE_ROWS`` rows of title or blank lines above it) whose headings, compared without case,
extra spaces or Unicode form, name the fields; blank rows skipped; in JSON an array of objects (or an
object holding it under one key) keyed by the same names. Each import says what it reads in a
``TableSpec``; a file that cannot be read at all raises the import's own error class.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MAX_TITLE_ROWS", "Row", "TableSpec", "heading", "read_table_file", "text"]

MAX_TITLE_ROWS = 10  # rows a heading may have above it (a title, blank rows)

#: A row's number in the file (the spreadsheet's line; in JSON the object's position from 1) and its
#: values by field name; a JSON item that is not an object is ``{"_problem": "not a JSON object"}``.
Row = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class TableSpec:
    """What one import reads: its fields and headings, and how its refusals read."""

    columns: Mapping[str, tuple[str, ...]]  # field -> the headings and JSON keys naming it
    error: type[ValueError]  # raised for a file that cannot be read at all
    json_key: str  # JSON may be {json_key: [...]}
    json_items: str  # "expected a JSON array of <json_items>"
    expected_headings: str  # "(expected <expected_headings>)" when no heading row names the key field
    key_field: str = "code"  # the field whose heading marks the heading row
    max_rows: int = 100_000
    field_of: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_of", {heading(h): name for name, headings in self.columns.items()
                                              for h in headings})


def heading(value: object) -> str:
    """A heading or key as compared: NFC, no-break spaces as spaces, single spaces, lower case."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", str(value)).replace("\u00a0", " ")).strip().lower()


def text(value: Any) -> str | None:
    """A cell as text (NFC, trimmed; a whole float as an integer), or None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    folded = unicodedata.normalize("NFC", str(value)).replace("\u00a0", " ").strip()
    return folded or None


def read_table_file(path: Path, spec: TableSpec) -> list[Row]:
    """The file's rows, each with its row number, keyed by field name (unknown columns dropped)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        rows = _json_rows(path, spec)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _table_rows(_xlsx_lines(path, spec), spec)
    elif suffix in (".csv", ".txt"):
        rows = _table_rows(_csv_lines(path, spec), spec)
    else:
        raise spec.error(f"{path.name}: expected a .csv, .xlsx or .json file")
    if len(rows) > spec.max_rows:
        raise spec.error(f"{path.name}: more than {spec.max_rows:,} rows")
    return rows


def _csv_lines(path: Path, spec: TableSpec) -> Iterator[list[Any]]:
    raw = path.read_bytes()
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise spec.error(f"{path.name}: not UTF-8 text") from None
    first = decoded.split("\n", 1)[0]  # the delimiter is the heading row's: ',' (default), ';' or a tab
    delimiter = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))
    yield from csv.reader(io.StringIO(decoded, newline=""), delimiter=delimiter)


def _xlsx_lines(path: Path, spec: TableSpec) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a file that is not a workbook
        raise spec.error(f"{path.name}: not a readable XLSX workbook ({type(err).__name__})") from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        book.close()


def _table_rows(lines: Iterable[list[Any]], spec: TableSpec) -> list[Row]:
    fields: list[str | None] | None = None
    rows: list[Row] = []
    for number, values in enumerate(lines, start=1):
        if fields is None:
            named = [spec.field_of.get(heading(v)) if v is not None else None for v in values]
            if spec.key_field not in named:
                if number >= MAX_TITLE_ROWS:
                    break
                continue  # a title or blank lines above the heading
            fields = named
            continue
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        rows.append((number, {f: v for f, v in zip(fields, values, strict=False) if f is not None}))
    if fields is None:
        raise spec.error(f"no heading row naming the {spec.key_field} in the first {MAX_TITLE_ROWS} rows "
                         f"(expected {spec.expected_headings})")
    return rows


def _json_rows(path: Path, spec: TableSpec) -> list[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise spec.error(f"{path.name}: not JSON ({err})") from None
    if isinstance(data, dict) and isinstance(data.get(spec.json_key), list):
        data = data[spec.json_key]
    if not isinstance(data, list):
        raise spec.error(f"{path.name}: expected a JSON array of {spec.json_items}")
    rows: list[Row] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            rows.append((number, {"_problem": "not a JSON object"}))
            continue
        keyed = ((heading(k), v) for k, v in item.items())
        rows.append((number, {spec.field_of[k]: v for k, v in keyed if k in spec.field_of}))
    return rows
