"""Monitoring settings from ``EISO_METRICS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_METRICS_", extra="ignore")

    port: int | None = Field(default=None, ge=0, le=65535,
                             description="Serve /metrics on this port (worker, `eiso metrics serve`); unset: off")
    host: str = Field(default="127.0.0.1", description="Address the metrics server binds; 0.0.0.0 in containers")
    database: bool | None = Field(
        default=None, description="Export the gauges read from the database (open work, on-time rate). Exactly "
        "one process per deployment should: `eiso metrics serve` does by default, the worker and the API do not",
    )
