"""``eiso worker``: follow the case-event topics on Kafka."""

from __future__ import annotations

import logging
import signal
from typing import Annotated

import typer

from engine.cli.output import console, errors


def worker(
    exit_when_idle: Annotated[float | None, typer.Option(
        "--exit-when-idle", help="Stop after this many seconds without a message (backfills, tests)")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Apply the one-stop-shop's case events from Kafka, each exactly once; dead-letter what cannot be read."""
    from connectors.settings import KafkaSettings
    from connectors.worker import CaseEventWorker
    from engine.bootstrap import build
    from engine.settings import EngineSettings, Settings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    kafka = KafkaSettings()
    settings = Settings(engine=EngineSettings(outbox=True))
    app = build(settings)
    runner = CaseEventWorker(app, kafka)

    def _stop(signum: int, _frame: object) -> None:
        errors.print(f"signal {signal.Signals(signum).name}: finishing the batch, committing, leaving the group")
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stats = runner.run(exit_when_idle=exit_when_idle)
    console.print(f"worker stopped: {stats.messages} message(s), outcomes {stats.outcomes}, "
                  f"{stats.dead_letters} dead-lettered, {stats.database_retries} database retries")
