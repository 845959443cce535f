"""``eiso procedures validate|deploy|list|retire``."""

from __future__ import annotations

import getpass
import os
from datetime import datetime
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


def _scope(agencies: list[str] | None) -> str:
    from engine.api.scope import check_code
    from engine.store.catalog import ProcedureCatalog

    try:
        return ProcedureCatalog.scope_of(check_code(code.strip()) for code in agencies or [])
    except ValueError as err:
        errors.print(str(err))
        raise typer.Exit(1) from None


@app.command("deploy")
def deploy(
    files: Annotated[list[Path], typer.Argument(help="BPMN files")],
    agency: Agencies = None,
    actor: Actor = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Store each file as a new version of its procedure for the agencies given (an identical file changes
    nothing). Each new version is written to the audit log with it."""
    from sqlmodel import Session

    from engine.core.agency import scope_agencies
    from engine.procedures.loader import ProcedureInvalid, validate_paths
    from engine.store.audit import CLI_ROLE
    from engine.store.catalog import Deployment, audit_deployment

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
        now = eiso.clock.now()

        def audited(session: Session, deployment: Deployment, at: datetime = now) -> None:
            audit_deployment(session, actor=who, role=CLI_ROLE, at=at, deployment=deployment)

        try:
            deployment = eiso.catalog.deploy(path.read_bytes(), path.name, now, scope_agencies(scope),
                                             within=audited)
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
        if deployment.created:
            eiso.service.retry_parked(deployment.code)
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
    from sqlmodel import Session

    from engine.store.audit import CLI_ROLE
    from engine.store.catalog import Retirement, audit_retirement, version_key

    scope = _scope(agency)
    who = _actor(actor)
    key = version_key(code, version, scope)
    eiso = get_app()
    now = eiso.clock.now()

    def audited(session: Session, retirement: Retirement) -> None:
        audit_retirement(session, actor=who, role=CLI_ROLE, at=now, retirement=retirement)

    retirement = eiso.catalog.retire(code, version, now, scope, within=audited)
    if retirement is None:
        errors.print(f"procedure {key} not found: no such version for these agencies")
        raise typer.Exit(1)
    errors.print(f"procedure {key} retired" if retirement.changed else f"procedure {key} was already retired")
