"""Settings, one typed object per concern, from ``EISO_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_DATABASE_", extra="ignore")

    url: str = Field(default="sqlite:///.eiso/eiso.db", description="SQLAlchemy URL; SQLite file by default")
    pool_size: int = Field(default=5, ge=1, description="PostgreSQL connections a process keeps open")
    max_overflow: int = Field(default=10, ge=0, description="Extra connections opened under load, closed after use")


class CalendarSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_CALENDAR_", extra="ignore")

    timezone: str = "Asia/Ho_Chi_Minh"
    hours: str = "07:30-11:30,13:00-17:00"
    weekdays: str = "mon-fri"
    cutoff: str = "15:00"
    overrides: Path | None = REPO_ROOT / "config" / "calendar-overrides.toml"
    public_holidays: bool = True


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_", extra="ignore")

    quality_objective: float = Field(default=0.95, ge=0, le=1)
    procedures_dir: Path = REPO_ROOT / "bpmn"
    case_cache_size: int = Field(default=20_000, ge=0)
    snapshot_every: int = Field(default=16, ge=1)
    watch_interval_seconds: float = Field(default=30.0, gt=0)
    outbox: bool | None = Field(
        default=None, description="Write acknowledgements and nonconformities to the outbox for Kafka; "
        "default: on when EISO_KAFKA_BOOTSTRAP is set",
    )


class Settings:
    """All settings, read once."""

    def __init__(self, database: DatabaseSettings | None = None, calendar: CalendarSettings | None = None,
                 engine: EngineSettings | None = None):
        self.database = database or DatabaseSettings()
        self.calendar = calendar or CalendarSettings()
        self.engine = engine or EngineSettings()
