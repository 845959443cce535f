"""Human tables and machine output (JSON, CSV) for the command line.

Text from outside (case ids, agency codes, file names, reasons) reaches the terminal here only, and
is never read as Rich markup or emoji codes: a case id ``W-[/x]`` must print as itself, not crash the
command, and a file ``a:100:.jsonl`` must not become an emoji. Styles are given as Rich ``Text``
objects (``styled``), never as markup inside a string. CSV cells go through ``csv_cell`` (no formula).
"""

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
from rich.text import Text

from engine.csv_safety import csv_cell


class PlainConsole(Console):
    """A console that renders every string as plain text, whatever a call site asks: no markup, no
    emoji codes, no highlighting (one place, so that no call site can forget to escape)."""

    def render_str(self, text: str, *, style: Any = "", justify: Any = None, overflow: Any = None,
                   emoji: bool | None = None, markup: bool | None = None, highlight: bool | None = None,
                   highlighter: Any = None) -> Text:
        return super().render_str(text, style=style, justify=justify, overflow=overflow, emoji=False,
                                  markup=False, highlight=False)


# Wide tables stay readable when the output is a file or a pipe (rich would assume 80 columns).
_WIDTH = None if sys.stdout.isatty() else 200
console = PlainConsole(width=_WIDTH, markup=False, emoji=False, highlight=False)
errors = PlainConsole(stderr=True, width=None if sys.stderr.isatty() else 200, markup=False, emoji=False,
                      highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text with styles and no markup: ``styled(("error:", "bold red"), " ", message)``."""
    return Text.assemble(*parts)


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
        writer.writerow([_csv_value(row.get(c)) for c in columns])
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


def _csv_value(value: Any) -> Any:
    """A CSV cell: numbers stay numbers (a negative delay is not a formula); text as in tables, neutralised."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _cell(value)
    return csv_cell(_cell(value))


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


def print_error(message: str) -> None:
    errors.print(styled(("error:", "bold red"), " ", message))


def fail(message: str, code: int = 1) -> None:
    print_error(message)
    raise SystemExit(code)
