"""``eiso serve`` (the HTTP API) and ``eiso users create|list|disable`` (API tokens)."""

from __future__ import annotations

import getpass
import secrets
from typing import Annotated

import typer

from engine.cli.context import get_app
from engine.cli.output import Format, errors, print_json, print_table

# engine.api and uvicorn are imported in the commands that use them: FastAPI costs every other `eiso`
# command almost half a second at start.
users_app = typer.Typer(no_args_is_help=True, help="Users of the HTTP API and their tokens.")


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Default: EISO_API_HOST (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default: EISO_API_PORT (8000)")] = None,
) -> None:
    """Run the HTTP API (OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    from engine.api.settings import ApiSettings
    from engine.console.app import create_site

    settings = ApiSettings()
    eiso = get_app()
    api = create_site(eiso, settings)
    where = f"http://{host or settings.host}:{port or settings.port}"
    errors.print(f"eiso on {where}: console at {where}/, API docs at {where}/docs; "
                 f"database {eiso.engine.url.render_as_string()}")
    uvicorn.run(api, host=host or settings.host, port=port or settings.port, log_level="info",
                server_header=False, forwarded_allow_ips=None)


@users_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="admin, process_owner, iso_secretary, leader, auditor or "
                                                     "connector")],
    agency: Annotated[list[str] | None, typer.Option("--agency", help="Agency code the user is bound to "
                                                                      "(repeat for several); covers the codes "
                                                                      "below it")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Default: ROLE-xxxxxx")] = None,
    all_agencies: Annotated[bool, typer.Option("--all-agencies", help="Not bound to agencies")] = False,
) -> None:
    """Create a user and print its API token, once: only its hash is kept."""
    from engine.api.roles import Role
    from engine.api.users import UserError, create_user

    if role not in Role.__members__:
        errors.print(f"unknown role {role!r}: one of {', '.join(Role.__members__)}")
        raise typer.Exit(2)
    eiso = get_app()
    user_name = name or f"{role}-{secrets.token_hex(3)}"
    try:
        token = create_user(eiso.engine, user_name, Role(role), list(agency or []), eiso.clock.now(),
                            all_agencies=all_agencies, created_by=f"cli:{_os_user()}")
    except (UserError, ValueError) as err:
        errors.print(f"no user created: {err}")
        raise typer.Exit(1) from None
    scope = ", ".join(agency or []) or "every agency"
    errors.print(f"user {user_name} ({role}, {scope}) created; its token, shown only now:")
    print(token)


@users_app.command("list")
def list_users(output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Users, their roles and agencies (never their tokens)."""
    from engine.api.users import list_users as users

    eiso = get_app()
    rows = [{"name": u.name, "role": u.role.value, "agencies": list(u.agencies) or "every agency",
             "created_at": eiso.calendar.local(u.created_at).isoformat(),
             "disabled_at": eiso.calendar.local(u.disabled_at).isoformat() if u.disabled_at else None}
            for u in users(eiso.engine)]
    if output is Format.json:
        print_json(rows)
    else:
        print_table(rows, ["name", "role", "agencies", "created_at", "disabled_at"])


@users_app.command("disable")
def disable(name: str) -> None:
    """Disable a user: its tokens stop working at once."""
    from engine.api.users import disable_user

    eiso = get_app()
    if not disable_user(eiso.engine, name, eiso.clock.now(), disabled_by=f"cli:{_os_user()}"):
        errors.print(f"no user named {name!r}")
        raise typer.Exit(1)
    errors.print(f"user {name} disabled")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
