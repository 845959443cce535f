"""The one place that wires everything: settings, calendar, store, catalog, service, clock.

The CLI, the API process, the Kafka worker and the tests all call ``build``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import time

from sqlalchemy import Engine

from engine.core.calendar import WorkingCalendar, parse_periods, parse_weekdays
from engine.core.calendar_overrides import CalendarConfigError, CalendarOverrides
from engine.core.clock import SystemClock
from engine.service import CaseService, Clock
from engine.settings import CalendarSettings, Settings
from engine.store.catalog import ProcedureCatalog
from engine.store.database import make_engine, prepare
from engine.store.outbox import Outbox
from engine.store.queries import Presenter


@dataclass
class App:
    settings: Settings
    engine: Engine
    calendar: WorkingCalendar
    catalog: ProcedureCatalog
    service: CaseService
    clock: Clock


OVERRIDES_HINT = "EISO_CALENDAR_OVERRIDES names another file; set it empty for none"


def make_calendar(settings: CalendarSettings) -> WorkingCalendar:
    overrides = None
    if settings.overrides is not None and str(settings.overrides):
        if not settings.overrides.exists():
            raise CalendarConfigError(f"{settings.overrides}: calendar overrides file not found ({OVERRIDES_HINT})")
        try:
            overrides = CalendarOverrides.from_toml(settings.overrides)
        except CalendarConfigError as err:  # unreadable or wrong: the file is named, and so is how to use another
            raise CalendarConfigError(f"{err} ({OVERRIDES_HINT})") from None
    try:
        hour, minute = (int(x) for x in settings.cutoff.split(":"))
        cutoff: time | None = time(hour, minute)
    except ValueError:
        if settings.cutoff.strip().lower() not in ("", "none", "off"):
            raise CalendarConfigError(
                f"EISO_CALENDAR_CUTOFF: expected HH:MM or 'none', got {settings.cutoff!r}"
            ) from None
        cutoff = None
    return WorkingCalendar(
        timezone=settings.timezone,
        periods=parse_periods(settings.hours),
        weekdays=parse_weekdays(settings.weekdays),
        cutoff=cutoff,
        overrides=overrides,
        use_public_holidays=settings.public_holidays,
    )


def build(settings: Settings | None = None, clock: Clock | None = None, engine: Engine | None = None,
          migrate: bool = True) -> App:
    settings = settings or Settings()
    engine = engine or make_engine(settings.database.url, pool_size=settings.database.pool_size,
                                   max_overflow=settings.database.max_overflow)
    if migrate:
        prepare(engine, settings.database)  # migrates, or only checks when another role migrates
    calendar = make_calendar(settings.calendar)
    catalog = ProcedureCatalog(engine)
    clock = clock or SystemClock()
    outbox_on = settings.engine.outbox
    if outbox_on is None:
        outbox_on = bool(os.environ.get("EISO_KAFKA_BOOTSTRAP"))
    service = CaseService(engine, catalog, calendar, clock, cache_size=settings.engine.case_cache_size,
                          snapshot_every=settings.engine.snapshot_every,
                          outbox=Outbox(Presenter(calendar)) if outbox_on else None)
    return App(settings=settings, engine=engine, calendar=calendar, catalog=catalog, service=service, clock=clock)
