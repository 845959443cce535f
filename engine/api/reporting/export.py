"""Reports as CSV (one table) or XLSX (one sheet per table), in the words of one language.

Headings, yes/no, types and percentages come from the language's label table
(``engine.reporting.labels``), as on the command line. Rates read as percentages to one decimal:
text in CSV ("94,8%" in Vietnamese, "94.8%" in English), numbers with a ``0.0%`` format in XLSX.
Text from outside (case ids, unit names) never becomes a spreadsheet formula: XLSX cells are
typed as text, and in CSV a text cell starting with = + - @ gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from fastapi import Response
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from engine.api.errors import ApiError
from engine.csv_safety import csv_cell, is_formula
from engine.reporting.formats import Format, Language
from engine.reporting.labels import LABELS
from engine.reporting.tables import PERCENT_KINDS, Table

__all__ = ["CSV", "DOC", "XLSX", "Table", "answer", "to_csv", "to_xlsx"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
DOC: dict[int | str, dict[str, Any]] = {200: {"content": {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}, "description": "The report: JSON, or CSV (`section`) or XLSX (a sheet per table) by `format`"}}


def to_csv(table: Table, lang: Language) -> bytes:
    labels = LABELS[lang]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.headings(labels))
    for cells in table.body(labels):
        writer.writerow([csv_cell(value) for value in cells])
    return buffer.getvalue().encode("utf-8")


def to_xlsx(tables: Sequence[Table], lang: Language) -> bytes:
    labels = LABELS[lang]
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(title=table.name[:31])
        names = table.headings(labels)
        sheet.append(names)
        percent = {i for i, c in enumerate(table.columns) if table.kinds.get(c) in PERCENT_KINDS}
        for cells in table.body(labels, sheet=True):
            sheet.append(cells)
            for index, cell in enumerate(sheet[sheet.max_row]):
                if is_formula(cell.value):
                    cell.data_type = "s"  # text, never a formula
                elif index in percent:
                    cell.number_format = "0.0%"  # a ratio already rounded as it reads: 0.948 shows 94.8%
        for index, name in enumerate(names, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(name) + 2))
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
