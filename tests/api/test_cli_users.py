"""``eiso users create|list|disable`` as a person runs them: the token printed once, never listed."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engine.api import create_app
from engine.bootstrap import App
from engine.cli.app import app as cli
from engine.cli.context import get_app


def eiso(database_url: str, *args: str) -> Any:
    get_app.cache_clear()
    try:
        result = CliRunner().invoke(cli, list(args), env={"EISO_DATABASE_URL": database_url, "COLUMNS": "200"})
    finally:
        if get_app.cache_info().currsize:
            get_app().engine.dispose()
        get_app.cache_clear()
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_create_prints_the_token_once_and_it_works(database_url: str, app: App) -> None:
    made = eiso(database_url, "users", "create", "--role", "iso_secretary", "--agency", "000.00.12.H10",
                "--name", "thu.ky")
    assert made.exit_code == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("eiso_") and len(token) > 40
    assert "shown only now" in made.stderr and token not in made.stderr
    listed = eiso(database_url, "users", "list", "--format", "json")
    assert json.loads(listed.stdout) == [{"name": "thu.ky", "role": "iso_secretary", "agencies": ["000.00.12.H10"],
                                          "created_at": json.loads(listed.stdout)[0]["created_at"],
                                          "disabled_at": None}]
    assert token not in listed.stdout
    with TestClient(create_app(app)) as client:
        me = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["name"] == "thu.ky"
        assert eiso(database_url, "users", "disable", "thu.ky").exit_code == 0
        assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_create_refuses_bad_input(database_url: str) -> None:
    assert eiso(database_url, "users", "create", "--role", "king").exit_code == 2
    unbound = eiso(database_url, "users", "create", "--role", "leader")
    assert unbound.exit_code == 1 and "--agency" in unbound.stderr and unbound.stdout == ""
    bad_code = eiso(database_url, "users", "create", "--role", "leader", "--agency", "a b")
    assert bad_code.exit_code == 1 and "agency code" in bad_code.stderr
    assert eiso(database_url, "users", "create", "--role", "admin", "--name", "root").exit_code == 0
    again = eiso(database_url, "users", "create", "--role", "admin", "--name", "root")
    assert again.exit_code == 1 and "exists already" in again.stderr
