"""``eiso metrics serve``: the one exporter of the gauges read from the database."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from engine.cli.context import get_app
from engine.cli.output import errors
from monitoring import install
from monitoring.http import serve as serve_registry
from monitoring.settings import MonitoringSettings

metrics_app = typer.Typer(no_args_is_help=True, help="Prometheus metrics.")


@metrics_app.command("serve")
def serve(
    port: Annotated[int | None, typer.Option("--port", help="Default: EISO_METRICS_PORT (9465)")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Default: EISO_METRICS_HOST (127.0.0.1)")] = None,
) -> None:
    """Serve /metrics with the open cases and steps, overdue counts and on-time rates from the database."""
    settings = MonitoringSettings()
    metrics = install(get_app(), database=settings.database is not False)
    server, _ = serve_registry(metrics.registry, port if port is not None else settings.port or 9465,
                               host or settings.host)
    errors.print(f"metrics on http://{host or settings.host}:{server.server_port}/metrics")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.shutdown()
    server.server_close()
