"""``eiso procedures validate|deploy|list|retire``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.context import get_app
from engine.cli.output import Format, console, errors, print_rows

app = typer.Typer(no_args_is_help=True, help="ISO procedures as BPMN files: validate, deploy, list versions.")


@app.command("validate")
def validate(files: Annotated[list[Path], typer.Argument(help="BPMN files")]) -> None:
    """Check files without deploying: one line per problem (file, element id, what is wrong)."""
    from engine.procedures.loader import validate_paths

    problems = validate_paths(files)
    failing = [p for p in problems if p.severity == "error"]
    for problem in problems:
        print(str(problem))
    if failing:
        errors.print(f"{len(failing)} problem(s) in {len({p.file for p in failing})} of {len(files)} file(s)")
        raise typer.Exit(1)
    errors.print(f"{len(files)} file(s) valid")


@app.command("deploy")
def deploy(
    files: Annotated[list[Path], typer.Argument(help="BPMN files")],
    output: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Store each file as a new version of its procedure (an identical file changes nothing)."""
    from engine.procedures.loader import ProcedureInvalid, validate_paths

    eiso = get_app()
    problems = [p for p in validate_paths(files) if p.severity == "error"]
    if problems:
        for problem in problems:
            print(str(problem))
        errors.print("nothing deployed: fix the problems above")
        raise typer.Exit(1)
    rows = []
    for path in files:
        try:
            deployment = eiso.catalog.deploy(path.read_bytes(), path.name, eiso.clock.now())
        except ProcedureInvalid as err:  # validated above; kept for a file changed in between
            for problem in err.problems:
                print(str(problem))
            raise typer.Exit(1) from None
        rows.append({
            "file": path.name, "procedure": deployment.code, "version": deployment.version,
            "checksum": deployment.checksum[:12], "deployed_at": eiso.calendar.local(deployment.deployed_at)
            .isoformat(), "result": "new version" if deployment.created else "unchanged",
        })
        if deployment.created:
            eiso.service.retry_parked(deployment.code)
    print_rows(rows, output, ["file", "procedure", "version", "checksum", "deployed_at", "result"])


@app.command("list")
def list_versions(output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Every deployed version, with its checksum and deploy time."""
    eiso = get_app()
    rows = [
        {
            "procedure": v.code, "version": v.version, "name": v.name, "file": v.filename,
            "statutory_limit_hours": round(v.statutory_limit_seconds / 3600, 2), "checksum": v.checksum,
            "deployed_at": eiso.calendar.local(v.deployed_at).isoformat(),
            "retired_at": eiso.calendar.local(v.retired_at).isoformat() if v.retired_at else None,
        }
        for v in eiso.catalog.versions()
    ]
    if not rows and output is Format.table:
        console.print("no procedure deployed yet: eiso procedures deploy bpmn/*.bpmn")
        return
    print_rows(rows, output, ["procedure", "version", "name", "statutory_limit_hours", "checksum", "deployed_at",
                         "retired_at"])


@app.command("retire")
def retire(code: str, version: int) -> None:
    """Retire a version: no new case starts on it; running cases keep it."""
    eiso = get_app()
    if not eiso.catalog.retire(code, version, eiso.clock.now()):
        errors.print(f"procedure {code} has no version {version}")
        raise typer.Exit(1)
    errors.print(f"procedure {code} version {version} retired")
