"""``eiso worker``: follow the case-event topics on Kafka."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from connectors.settings import KafkaSettings
from engine.bootstrap import App, build
from engine.cli.logs import configure_logging
from engine.cli.output import console, errors
from engine.settings import EngineSettings, Settings
from monitoring import WorkerMetrics, install
from monitoring.http import serve
from monitoring.settings import MonitoringSettings

# connectors.worker, connectors.publisher and kafka stay function-level imports: kafka-python costs every
# other `eiso` command a tenth of a second at start, for the two commands that need it.


def worker(
    exit_when_idle: Annotated[float | None, typer.Option(
        "--exit-when-idle", help="Stop after this many seconds without a message (backfills, tests)")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING")] = "INFO",
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", help="Serve Prometheus metrics on this port (default EISO_METRICS_PORT; unset: off), "
        "bound to EISO_METRICS_HOST (127.0.0.1)")] = None,
) -> None:
    """Apply the one-stop-shop's case events from Kafka, each exactly once; dead-letter what cannot be read."""
    from connectors.worker import CaseEventWorker

    configure_logging(log_level)
    kafka = KafkaSettings()
    settings = Settings(engine=EngineSettings(outbox=True))
    app = build(settings)
    metrics = _serve_metrics(app, metrics_port)
    runner = CaseEventWorker(app, kafka, metrics=metrics)

    def _stop(signum: int, _frame: object) -> None:
        errors.print(f"signal {signal.Signals(signum).name}: finishing the batch, committing, leaving the group")
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stats = runner.run(exit_when_idle=exit_when_idle)
    console.print(f"worker stopped: {stats.messages} message(s), outcomes {stats.outcomes}, "
                  f"{stats.dead_letters} dead-lettered, {stats.database_retries} database retries")


def _serve_metrics(app: App, port: int | None) -> WorkerMetrics | None:
    """Start /metrics when a port is set: this process's counters, the lag, and the database gauges only
    when EISO_METRICS_DATABASE=true (one exporter per deployment, see the README)."""
    settings = MonitoringSettings()
    port = port if port is not None else settings.port
    if port is None:
        return None
    metrics = install(app, database=bool(settings.database))
    worker_metrics = WorkerMetrics(metrics.registry)
    server, _ = serve(metrics.registry, port, settings.host)
    console.print(f"metrics on http://{settings.host}:{server.server_port}/metrics")
    return worker_metrics


def publisher(
    exit_when_idle: Annotated[float | None, typer.Option(
        "--exit-when-idle", help="Stop after this many seconds with nothing to send (backfills, tests)")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Send the outbox (acknowledgements, nonconformities, dead letters) to Kafka, beside workers that run
    with EISO_KAFKA_PUBLISH_IN_WORKER=false; several publishers may run at once."""
    from kafka import KafkaProducer

    from connectors.publisher import OutboxPublisher

    configure_logging(log_level)
    kafka = KafkaSettings()
    app = build(Settings(engine=EngineSettings(outbox=True)))
    producer = KafkaProducer(**kafka.producer_config())
    runner = OutboxPublisher(app.engine, producer, kafka.outbound_topic, kafka.dlq_topic, app.clock.now)

    def _stop(signum: int, _frame: object) -> None:
        errors.print(f"signal {signal.Signals(signum).name}: finishing the batch in hand")
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        sent = runner.run(exit_when_idle=exit_when_idle, retry_seconds=kafka.db_retry_seconds)
    finally:
        producer.flush(timeout=30)
        producer.close(timeout=30)
    console.print(f"publisher stopped: {sent} message(s) sent")
