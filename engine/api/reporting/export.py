"""Reports as CSV (one table) or XLSX (one sheet per table), with Vietnamese or English headings.

Text from outside (case ids, unit names) never becomes a spreadsheet formula: XLSX cells are
typed as text, and in CSV a text cell starting with = + - @ gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from engine.api.errors import ApiError
from engine.api.reporting.common import Format, Language, headings
from engine.csv_safety import csv_cell, is_formula

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
DOC: dict[int | str, dict[str, Any]] = {200: {"content": {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}, "description": "The report: JSON, or CSV (`section`) or XLSX (a sheet per table) by `format`"}}


@dataclass(frozen=True)
class Table:
    name: str
    columns: Sequence[str]
    rows: Sequence[dict[str, Any]]


def to_csv(table: Table, lang: Language) -> bytes:
    names = headings(lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([names.get(c, c) for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(row.get(c)) for c in table.columns])
    return buffer.getvalue().encode("utf-8")


def to_xlsx(tables: Sequence[Table], lang: Language) -> bytes:
    names = headings(lang)
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(title=table.name[:31])
        sheet.append([names.get(c, c) for c in table.columns])
        for row in table.rows:
            sheet.append([row.get(c) for c in table.columns])
            for cell in sheet[sheet.max_row]:
                if is_formula(cell.value):
                    cell.data_type = "s"  # text, never a formula
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(names.get(column, column))
                                                                                  + 2))
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def answer(report: str, tables: Sequence[Table], format: Format, lang: Language, section: str | None) -> Response:
    """The CSV or XLSX response (the JSON one is the route's model)."""
    if format is Format.xlsx:
        return Response(content=to_xlsx(tables, lang), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{report}.xlsx"'})
    chosen = next((t for t in tables if t.name == section), None) if section else tables[0]
    if chosen is None:
        raise ApiError(422, f"section must be one of {', '.join(t.name for t in tables)}")
    return Response(content=to_csv(chosen, lang), media_type=CSV,
                    headers={"Content-Disposition": f'attachment; filename="{report}-{chosen.name}.csv"'})
