"""Human tables and machine output (JSON, CSV) for the command line."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any

from rich.console import Console
from rich.table import Table

# Wide tables stay readable when the output is a file or a pipe (rich would assume 80 columns).
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(width=_WIDTH)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def print_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None,
              headings: dict[str, str] | None = None) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([(headings or {}).get(c, c) for c in columns])
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
    sys.stdout.write(buffer.getvalue())


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None,
                headings: dict[str, str] | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column((headings or {}).get(column, column), overflow="fold")
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    console.print(table)


def print_rows(rows: Sequence[dict[str, Any]], output: Format, columns: Sequence[str],
               title: str | None = None) -> None:
    """Rows as JSON, CSV or a table, as ``--format`` asks."""
    if output is Format.json:
        print_json(list(rows))
    elif output is Format.csv:
        print_csv(rows, columns)
    else:
        print_table(rows, columns, title=title)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def fail(message: str, code: int = 1) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise SystemExit(code)
