"""``eiso agencies import|list``: the agency code history (Decision 09/2025/QĐ-TTg)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.application.agencies import AgencyFileError, import_agency_history
from engine.cli.context import get_app
from engine.cli.output import Format, errors, print_rows
from engine.cli.procedures import Actor, _actor
from engine.store.agencies import stored_codes

app = typer.Typer(no_args_is_help=True, help="The history of agency codes: validity and successors.")


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="The history: .csv, .xlsx or .json")],
    actor: Actor = None,
) -> None:
    """Import every row or none: a row with a problem is reported with its row number, nothing is written.

    Columns: code, name, valid_from, valid_to (exclusive), successor. Importing again updates the codes
    listed. Cases, steps and nonconformities of codes already closed move to their successor (the code a
    case was received with is kept); the counts are printed.
    """
    if not file.is_file():
        errors.print(f"{file}: no such file")
        raise typer.Exit(1)
    eiso = get_app()
    try:
        result = import_agency_history(eiso.engine, file, eiso.clock.now(), eiso.calendar.zone, _actor(actor))
    except AgencyFileError as err:
        errors.print(f"{file}: {err}")
        raise typer.Exit(1) from None
    for problem in result.problems:
        errors.print(f"{file}: {problem}")
    if result.saved is None:
        errors.print(f"{len(result.problems)} problem(s) in {result.rows} row(s); nothing imported")
        raise typer.Exit(1)
    eiso.service.agency_codes.invalidate()
    saved = result.saved
    errors.print(f"{result.rows} row(s): {saved.inserted} added, {saved.updated} updated, {saved.unchanged} "
                 f"unchanged; moved to their successor: {saved.cases} case(s), {saved.steps} step(s), "
                 f"{saved.nonconformities} nonconformit{'y' if saved.nonconformities == 1 else 'ies'}")


@app.command("list")
def list_codes(output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """The imported agency codes, with validity and successor, and the current code each stands for."""
    eiso = get_app()
    zone = eiso.calendar.zone
    rows = stored_codes(eiso.engine)
    history = eiso.service.agency_codes.history()
    listed = [{"code": r.code, "name": r.name,
               "valid_from": r.valid_from.astimezone(zone).isoformat() if r.valid_from else None,
               "valid_to": r.valid_to.astimezone(zone).isoformat() if r.valid_to else None,
               "successor": r.successor, "current": history.current(r.code),
               "imported_at": r.imported_at.astimezone(zone).isoformat(), "imported_by": r.imported_by,
               "source": r.source} for r in rows]
    print_rows(listed, output, ["code", "name", "valid_from", "valid_to", "successor", "current"])
