"""Migration 0011 keeps a frozen copy of the reporting views' SQL; it must equal the live rule's output.

A migration defines the same views whenever it runs, so it cannot import the rule. When this test
fails, the rule changed: write a new migration that defines the views again (a new frozen copy) and
point this test at it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from engine.reporting import views

VERSIONS = Path(__file__).resolve().parents[2] / "engine" / "store" / "migrations" / "versions"


def _normalised(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_the_frozen_views_of_migration_0011_are_the_live_rule() -> None:
    spec = importlib.util.spec_from_file_location("eiso_0011", VERSIONS / "0011_reporting_views_one_definition.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    live = views.views()
    assert _normalised(migration.LATE_CASES) == _normalised(live["v_late_cases"])
    assert _normalised(migration.MONTHLY) == _normalised(live["v_monthly_timeliness"])


def test_migration_0011_goes_down_to_the_views_of_0009_and_up_again(postgres_database: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from engine.store.database import alembic_config, make_engine, upgrade

    engine = make_engine(postgres_database)

    def monthly() -> str:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT pg_get_viewdef('v_monthly_timeliness')")).scalar_one())

    try:
        upgrade(engine)
        head = monthly()
        assert "generate_series" in head and "count(*) FILTER" in head
        with engine.begin() as conn:
            config = alembic_config(engine)
            config.attributes["connection"] = conn
            command.downgrade(config, "0010")
        assert "FULL JOIN" in monthly()  # 0009's definition again
        upgrade(engine)
        assert monthly() == head
    finally:
        engine.dispose()
