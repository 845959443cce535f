"""``eiso catalogue import|list`` and ``eiso procedures review``: the national catalogue of procedures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.application.catalogue import CatalogueFileError, import_catalogue
from engine.application.procedure_review import review_rows
from engine.cli.context import get_app, parse_time
from engine.cli.output import Format, errors, print_rows
from engine.store.catalogue import catalogue_entries

app = typer.Typer(no_args_is_help=True, help="The national catalogue of administrative procedures.")


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="The national database's export: .csv, .xlsx or .json")],
    allow_unreadable: Annotated[bool, typer.Option(
        "--allow-unreadable", help="Store a time limit that does not read as working time as unknown, "
        "with its reason, instead of refusing the import")] = False,
) -> None:
    """Import every row or none: a row with a problem is reported with its row number, nothing is written.

    Headings: Mã thủ tục, Tên thủ tục, Cấp thực hiện, Lĩnh vực, Thời hạn giải quyết, Trạng thái, Ngày hiệu
    lực (JSON keys: code, name, level, sector, time_limit, status, effective_date). Importing again updates
    the rows by code and effective date.
    """
    if not file.is_file():
        errors.print(f"{file}: no such file")
        raise typer.Exit(1)
    eiso = get_app()
    try:
        result = import_catalogue(eiso.engine, file, eiso.clock.now(), allow_unreadable=allow_unreadable)
    except CatalogueFileError as err:
        errors.print(f"{file}: {err}")
        raise typer.Exit(1) from None
    for problem in result.problems:
        errors.print(f"{file}: {problem}")
    for problem in result.unreadable:
        errors.print(f"{file}: {problem}")
    if result.written is None:
        errors.print(f"{len(result.problems)} problem(s) in {result.rows} row(s); nothing imported")
        raise typer.Exit(1)
    written = result.written
    errors.print(f"{result.rows} row(s): {written.inserted} added, {written.updated} updated, "
                 f"{written.unchanged} unchanged" + (f", {len(result.unreadable)} with the time limit unknown"
                                                      if result.unreadable else ""))


@app.command("list")
def list_entries(
    code: Annotated[str | None, typer.Option("--code", help="Only this procedure code")] = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """The imported procedures, by code and effective date."""
    rows = [{"code": e.code, "effective_date": e.effective_date.isoformat(), "name": e.name,
             "level": e.level, "sector": e.sector, "time_limit": e.time_limit, "limit": e.limit_duration,
             "limit_note": e.limit_note, "limit_problem": e.limit_problem, "status": e.status,
             "abolished": e.abolished} for e in catalogue_entries(get_app().engine, code)]
    print_rows(rows, output, ["code", "effective_date", "limit", "abolished", "name", "time_limit"])


def review_procedures(
    at: Annotated[str | None, typer.Option("--at", help="As of this date or RFC 3339 time (default now)")] = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """The deployed procedures against the imported catalogue (``eiso catalogue import``): limits that
    differ, abolished procedures still in force, limits the catalogue states unreadably, catalogue
    procedures without an ISO procedure, deployed codes missing from the catalogue; each with the date
    of the change."""
    eiso = get_app()
    when = (parse_time(at, "--at") if at else eiso.clock.now()).astimezone(eiso.calendar.zone)
    # the same rows as GET /reports/procedure-review
    rows = review_rows(eiso.catalog.versions(), catalogue_entries(eiso.engine), when)
    print_rows(rows, output, ["kind", "code", "changed_on", "version", "deployed_limit", "catalogue_limit",
                              "detail"])
    if not rows:
        errors.print("the deployed procedures agree with the catalogue")
