"""The core imports no web, SQL or Kafka code (house style: a pure core, I/O in adapters)."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "engine.core.agency", "engine.core.calendar", "engine.core.calendar_overrides", "engine.core.case",
    "engine.core.clock",
    "engine.core.clocks", "engine.core.durations", "engine.core.events", "engine.core.expressions",
    "engine.core.handling", "engine.core.nonconformities", "engine.core.procedure", "engine.core.workflow",
    "engine.core.apology", "engine.core.corrective", "engine.core.script_engine",
    "engine.procedures.loader", "engine.procedures.script_engine",
]
FORBIDDEN = ["sqlalchemy", "sqlmodel", "fastapi", "starlette", "kafka", "psycopg", "alembic", "prometheus_client"]


def test_core_imports_no_io_libraries() -> None:
    code = (
        "import sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    __import__(name)\n"
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r}))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
