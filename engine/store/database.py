"""Database engine and schema: SQLite by default, PostgreSQL by URL, schema by Alembic.

Two roles on PostgreSQL: the owner of the schema runs the migrations (``eiso db upgrade``, with
``EISO_DATABASE_MIGRATION_URL``), the services connect as a restricted role (``EISO_DATABASE_URL``)
that may read and write the tables but never update, delete or truncate the audit log. Services
started that way check the schema and never migrate it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import ProgrammingError

from engine.settings import DatabaseSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, echo: bool = False, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping (a round trip per transaction): a dead connection fails its transaction, the pool
    # drops it, and callers retry (the worker pauses and retries while the database is down).
    # An API process serving N clients at once wants pool_size >= N: a connection beyond the pool
    # is opened for one request and closed after it.
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection_engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head", app_role: str | None = None) -> None:
    """Bring the schema to ``revision`` (idempotent); then grant ``app_role`` what the services need."""
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        if app_role and connection.dialect.name == "postgresql":
            grant_application_role(connection, app_role)


# The audit log's own rows are never changed: the application role may only add and read them.
APPEND_ONLY_TABLES = ("audit_log",)


def grant_application_role(connection: Connection, role: str) -> None:
    """What the services' role may do, granted again at each upgrade (so new tables are covered).

    Reading and writing every table and sequence; on the append-only tables only SELECT and INSERT.
    No TRUNCATE, no ownership, no DDL: the role cannot drop the audit log's triggers either.
    """
    quoted = connection.dialect.identifier_preparer.quote(role)
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {quoted}")
    connection.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
    connection.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
    connection.exec_driver_sql(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {quoted}")
    for table in APPEND_ONLY_TABLES:
        connection.exec_driver_sql(f"REVOKE UPDATE, DELETE ON {table} FROM {quoted}")


class SchemaNotCurrent(ValueError):
    """The schema is not the one this eiso needs, and this process may not (or must not) migrate it."""


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's schema revision (None: no schema yet) and the one this code needs."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision(), head


def prepare(engine: Engine, settings: DatabaseSettings) -> None:
    """A service's start: nothing when the schema is current; else migrate, unless migrations
    belong to another role (``EISO_DATABASE_MIGRATION_URL``), or this role may not migrate."""
    current, head = revisions(engine)
    if current == head:
        return
    behind = (f"the database schema is at revision {current or '(none)'} and this eiso needs {head}: "
              "run `eiso db upgrade`")
    if settings.separate_migrator:
        raise SchemaNotCurrent(f"{behind} (it migrates as EISO_DATABASE_MIGRATION_URL)")
    try:
        upgrade(engine)
    except ProgrammingError as err:
        if getattr(err.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        raise SchemaNotCurrent(f"{behind} as the role owning the schema (EISO_DATABASE_MIGRATION_URL): "
                               "the role of EISO_DATABASE_URL may not change it") from None


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("journal")
