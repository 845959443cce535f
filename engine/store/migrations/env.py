"""Alembic environment: runs on the connection handed over by ``engine.store.database``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import engine.store.agencies  # the agency code history (eiso agencies import)
import engine.store.catalogue  # the national catalogue (eiso catalogue import)
import engine.store.tables
import engine.store.tables_api  # noqa: F401  (the HTTP API's tables)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = config.attributes["connection_engine"]
        with engine.begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
