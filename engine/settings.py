"""Settings, one typed object per concern, from ``EISO_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from engine.bundled import CALENDAR_OVERRIDES, config_file, procedures_dir


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_DATABASE_", extra="ignore")

    url: str = Field(default="sqlite:///.eiso/eiso.db", description="SQLAlchemy URL; SQLite file by default")
    migration_url: str | None = Field(
        default=None, description="URL of the role owning the schema, for `eiso db upgrade`; when set (and not the "
        "same as url), services only check that the schema is current and never migrate",
    )
    pool_size: int = Field(default=5, ge=1, description="PostgreSQL connections a process keeps open")
    max_overflow: int = Field(default=10, ge=0, description="Extra connections opened under load, closed after use")

    @property
    def separate_migrator(self) -> bool:
        """Whether migrations run as another role than the services (``migration_url``)."""
        return bool(self.migration_url) and self.migration_url != self.url

    @property
    def migrator_url(self) -> str:
        return self.migration_url or self.url

    @property
    def app_role(self) -> str | None:
        """The services' role, granted its privileges by `eiso db upgrade`: the user of ``url`` when
        migrations run as another role."""
        if not self.separate_migrator:
            return None
        role, owner = make_url(self.url).username, make_url(self.migrator_url).username
        return role if role != owner else None  # never revoke the owner's own privileges


class CalendarSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_CALENDAR_", extra="ignore")

    timezone: str = "Asia/Ho_Chi_Minh"
    hours: str = "07:30-11:30,13:00-17:00"
    weekdays: str = "mon-fri"
    cutoff: str = "15:00"
    overrides: Path | None = Field(
        default_factory=lambda: config_file(CALENDAR_OVERRIDES),
        description="days off and working days the holidays package lacks; default: the packaged "
        "config/calendar-overrides.toml; empty: none")
    public_holidays: bool = True

    @field_validator("overrides", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # EISO_CALENDAR_OVERRIDES= (empty) means no overrides file, not the working directory.
        return None if isinstance(value, str) and not value.strip() else value


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_", extra="ignore")

    quality_objective: float = Field(default=0.95, ge=0, le=1)
    procedures_dir: Path = Field(default_factory=procedures_dir,
                                 description="the procedures of `eiso demo` and `eiso procedures deploy --bundled`; "
                                 "default: the packaged bpmn/")
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
