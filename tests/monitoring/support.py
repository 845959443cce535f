"""Helpers of the monitoring tests: a month of `eiso simulate` traffic applied with the metrics installed."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.bootstrap import App, build
from engine.cli.app import app as cli
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, EngineSettings, Settings
from tests.conftest import BUNDLED

MONTH = "2026-03"
DEPLOYED_AT = datetime.fromisoformat("2026-01-01T00:00:00+07:00")
# Late afternoon of the month's last working day: many cases resolved this month, others open and late.
NOW = datetime.fromisoformat("2026-03-31T16:00:00+07:00")


def simulate(path: Path, cases: int, seed: int = 7) -> list[str]:
    """The real `eiso simulate` command, writing JSON Lines to ``path``."""
    result = CliRunner().invoke(cli, ["simulate", "--cases", str(cases), "--seed", str(seed), "--month", MONTH,
                                      "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8").splitlines()


def make_app(url: str, outbox: bool = False) -> App:
    app = build(Settings(database=DatabaseSettings(url=url), engine=EngineSettings(outbox=outbox)),
                clock=ManualClock(NOW))
    for path in BUNDLED:
        app.catalog.deploy(path.read_bytes(), path.name, DEPLOYED_AT)
    return app


def required_binary(name: str) -> str:
    """A Prometheus tool's path; CI must have it (scripts/test installs Debian's prometheus packages)."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must provide {name} (scripts/test installs Debian's prometheus packages)")
        pytest.skip(f"{name} not installed (apt-get install prometheus prometheus-alertmanager)")
    return found
