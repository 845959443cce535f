"""``eiso procedures validate|deploy|list|retire``."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from engine.application import procedures
from engine.cli import migrating
from engine.cli.context import get_app
from engine.cli.output import Format, console, errors, print_rows
from engine.core.agency import scope_agencies
from engine.core.events import check_agency_code
from engine.procedures.generate import StepTableError, generate_bpmn, parse_step_time, read_step_table
from engine.procedures.loader import ProcedureInvalid, validate_paths, validate_source
from engine.settings import EngineSettings
from engine.store.audit import CLI_ROLE
from engine.store.catalog import ProcedureCatalog, version_key

app = typer.Typer(no_args_is_help=True, help="ISO procedures as BPMN files: validate, deploy, list versions.")


@app.command("validate")
def validate(files: Annotated[list[Path], typer.Argument(help="BPMN files")]) -> None:
    """Check files without deploying: one line per problem (file, element id, what is wrong)."""
    problems = validate_paths(files)
    failing = [p for p in problems if p.severity == "error"]
    for problem in problems:
        print(str(problem))
    if failing:
        errors.print(f"{len(failing)} problem(s) in {len({p.file for p in failing})} of {len(files)} file(s)")
        raise typer.Exit(1)
    errors.print(f"{len(files)} file(s) valid")


@app.command("generate")
def generate(
    table: Annotated[Path, typer.Argument(help="The step table (.xlsx or .csv): Bước, Nội dung công việc, "
                                              "Trách nhiệm, Thời gian, Kết quả[, Bước tiếp theo, Điều kiện]")],
    code: Annotated[str, typer.Option("--code", help="The national procedure code, e.g. 1.001806")],
    limit: Annotated[str | None, typer.Option("--limit", help="The statutory limit in working time, e.g. P10D "
                                                             "(default: the table's total row, else the sum "
                                                             "of its steps' times)")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The procedure's name")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--output", help="The BPMN file to write "
                                                                   "(default: TABLE with .bpmn)")] = None,
) -> None:
    """Draw a BPMN procedure from a published step table: a lane per unit, a task per step with its deadline;
    nothing is written unless the result validates."""
    try:
        steps = read_step_table(table)
    except StepTableError as err:
        errors.print(str(err))
        raise typer.Exit(1) from None
    for warning in steps.warnings:
        errors.print(f"warning: {warning}")
    chosen = steps.total or steps.sum_duration
    if limit is not None:
        try:  # P10D, or as a table writes it: "10 ngày làm việc"
            chosen = parse_step_time(limit)[0] or ""
        except ValueError as err:
            errors.print(f"--limit: {err}")
            raise typer.Exit(1) from None
    target = out or table.with_suffix(".bpmn")
    try:
        source = generate_bpmn(steps, code, chosen, name)
    except StepTableError as err:
        errors.print(str(err))
        raise typer.Exit(1) from None
    problems = validate_source(source, str(target))
    for problem in problems:
        print(str(problem))
    if any(problem.is_error for problem in problems):
        errors.print("nothing written: the generated procedure does not validate")
        raise typer.Exit(1)
    target.write_bytes(source)
    lanes = len({step.unit for step in steps.steps})
    errors.print(f"{target}: {len(steps.steps)} step(s) in {lanes} lane(s), statutory limit {chosen}"
                 + ("" if limit else " (from the table's total)" if steps.total else " (the sum of the steps)"))


Agencies = Annotated[list[str] | None, typer.Option(
    "--agency", help="An agency the deployment covers, with the codes below it (repeat for several); "
    "none: every agency")]
Actor = Annotated[str | None, typer.Option("--actor", help="Who makes the change, for the audit log "
                                                          "(default: the operating-system user)")]


def _actor(given: str | None) -> str:
    if given and given.strip():
        return given.strip()[:200]
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (a container): the numeric id is still a who
        return f"uid {os.getuid()}"


def _agency_code(code: str) -> str:
    problem = check_agency_code(code)
    if problem is not None:
        raise ValueError(problem)
    return code


def _scope(agencies: list[str] | None) -> str:
    try:
        return ProcedureCatalog.scope_of(_agency_code(code.strip()) for code in agencies or [])
    except ValueError as err:
        errors.print(str(err))
        raise typer.Exit(1) from None


def _bundled_files() -> list[Path]:
    directory = EngineSettings().procedures_dir
    found = sorted(directory.glob("*.bpmn")) if directory.is_dir() else []
    if not found:
        errors.print(f"{directory}: no BPMN file there (EISO_PROCEDURES_DIR names the directory of --bundled)")
        raise typer.Exit(1)
    return found


@app.command("deploy")
def deploy(
    files: Annotated[list[Path] | None, typer.Argument(help="BPMN files")] = None,
    agency: Agencies = None,
    actor: Actor = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
    bundled: Annotated[bool, typer.Option("--bundled", help="Also the procedures shipped with eiso "
                                                            "(EISO_PROCEDURES_DIR overrides their directory)")] = False,
) -> None:
    """Store each file as a new version of its procedure for the agencies given (an identical file changes
    nothing). Each new version is written to the audit log with it."""
    files = [*(files or []), *(_bundled_files() if bundled else [])]
    if not files:
        errors.print("no file to deploy: name BPMN files, or --bundled for the procedures shipped with eiso")
        raise typer.Exit(2)
    scope = _scope(agency)
    who = _actor(actor)
    eiso = get_app()
    problems = [p for p in validate_paths(files) if p.severity == "error"]
    if problems:
        for problem in problems:
            print(str(problem))
        errors.print("nothing deployed: fix the problems above")
        raise typer.Exit(1)
    rows = []
    for path in files:
        try:  # the new version, audited, then the events parked for its code
            deployment = procedures.deploy(eiso.catalog, eiso.service, path.read_bytes(), path.name,
                                           scope_agencies(scope), eiso.clock.now(),
                                           procedures.Actor(who, CLI_ROLE)).deployment
        except ProcedureInvalid as err:  # validated above; kept for a file changed in between
            for problem in err.problems:
                print(str(problem))
            raise typer.Exit(1) from None
        rows.append({
            "file": deployment.filename, "procedure": deployment.code, "scope": deployment.scope,
            "version": deployment.version, "checksum": deployment.checksum[:12],
            "deployed_at": eiso.calendar.local(deployment.deployed_at).isoformat(),
            "result": "new version" if deployment.created else "unchanged",
        })
    print_rows(rows, output, ["file", "procedure", "scope", "version", "checksum", "deployed_at", "result"])


@app.command("list")
def list_versions(output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Every deployed version, with the agencies it covers (scope `*`: every agency), its checksum and deploy
    time."""
    eiso = get_app()
    rows = [
        {
            "procedure": v.code, "scope": v.scope, "version": v.version, "name": v.name, "file": v.filename,
            "statutory_limit_hours": round(v.statutory_limit_seconds / 3600, 2), "checksum": v.checksum,
            "deployed_at": eiso.calendar.local(v.deployed_at).isoformat(),
            "retired_at": eiso.calendar.local(v.retired_at).isoformat() if v.retired_at else None,
        }
        for v in eiso.catalog.versions()
    ]
    if not rows and output is Format.table:
        console.print("no procedure deployed yet: eiso procedures deploy bpmn/*.bpmn")
        return
    print_rows(rows, output, ["procedure", "scope", "version", "name", "statutory_limit_hours", "checksum",
                              "deployed_at", "retired_at"])


@app.command("retire")
def retire(code: str, version: int, agency: Agencies = None, actor: Actor = None) -> None:
    """Retire a version (of the deployment for the agencies given; none: every agency): no new case starts on
    it; running cases keep it. The retirement is written to the audit log with it."""
    scope = _scope(agency)
    who = _actor(actor)
    key = version_key(code, version, scope)
    eiso = get_app()
    retirement = procedures.retire(eiso.catalog, code, version, scope, eiso.clock.now(),
                                   procedures.Actor(who, CLI_ROLE))
    if retirement is None:
        errors.print(f"procedure {key} not found: no such version for these agencies")
        raise typer.Exit(1)
    errors.print(f"procedure {key} retired" if retirement.changed else f"procedure {key} was already retired")


# ``eiso procedures migrate``: its own module (engine/cli/migrating.py), registered here with the others.
app.command("migrate")(migrating.command(_actor))
