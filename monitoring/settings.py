"""Monitoring settings from ``EISO_METRICS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_METRICS_", extra="ignore")

    port: int | None = Field(default=None, ge=0, le=65535,
                             description="Serve /metrics on this port (worker, `eiso metrics serve`); unset: off")
    host: str = Field(default="127.0.0.1", description="Address the metrics server binds; 0.0.0.0 in containers")
    # Label values come from outside (agency codes, procedure codes, step ids): beyond these bounds they are
    # counted under "other", so that invented codes cannot grow /metrics without end. An allow-list (comma
    # separated) makes the kept values the same in every process; without one, each keeps the first it sees.
    max_agencies: int = Field(default=200, ge=1, description="Agencies labelled by name; the rest are 'other'")
    agencies: str | None = Field(default=None, description="Comma-separated agency codes labelled by name "
                                 "(the others are 'other'); overrides EISO_METRICS_MAX_AGENCIES")
    max_procedures: int = Field(default=200, ge=1, description="Procedure codes labelled by name")
    procedures: str | None = Field(default=None, description="Comma-separated procedure codes labelled by name")
    max_steps: int = Field(default=1000, ge=1, description="Step ids labelled by name")
    steps: str | None = Field(default=None, description="Comma-separated step ids labelled by name")
    database: bool | None = Field(
        default=None, description="Export the gauges read from the database (open work, on-time rate). Exactly "
        "one process per deployment should: `eiso metrics serve` does by default, the worker and the API do not",
    )
