"""Kafka settings for production brokers, from ``EISO_KAFKA_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Format = Literal["contract", "portal"]


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_KAFKA_", extra="ignore")

    bootstrap: str = Field(default="127.0.0.1:9092", description="host:port[,host:port...]")
    topic: str = Field(default="onestop.case-events", description="case events in the contract's format")
    portal_topic: str | None = Field(default=None, description="optional topic of national-portal payloads")
    portal_steps: Path | None = Field(
        default=None, description="the portal's unit-to-step table; default: config/portal-steps.toml of the "
        "working directory, else the packaged one")
    group: str = "eiso-engine"
    dlq_topic: str = "onestop.case-events.dlq"
    outbound_topic: str = "eiso.nonconformities"
    client_id: str = "eiso"
    batch_size: int = Field(default=500, ge=1, le=100_000)
    poll_timeout_ms: int = Field(default=500, ge=10)
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    session_timeout_ms: int = Field(default=45_000, ge=6_000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: SecretStr | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    db_retry_seconds: float = Field(default=2.0, gt=0, description="pause between retries while the DB is down")
    publish_in_worker: bool = Field(
        default=True, description="the worker sends the outbox itself; false when `eiso publisher` runs beside it")

    @field_validator("bootstrap")
    @classmethod
    def _servers(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers or any(":" not in s for s in servers):
            raise ValueError(f"EISO_KAFKA_BOOTSTRAP must be host:port[,host:port...], got {value!r}")
        return ",".join(servers)

    def topic_formats(self) -> dict[str, Format]:
        formats: dict[str, Format] = {self.topic: "contract"}
        if self.portal_topic:
            formats[self.portal_topic] = "portal"
        return formats

    def producer_config(self) -> dict[str, Any]:
        """The outbox producer's options: every message acknowledged by all replicas, retried without end."""
        return {**self.client_config(), "acks": "all", "linger_ms": 5, "retries": 2147483647}

    def client_config(self) -> dict[str, Any]:
        """Connection options shared by consumer, producer and admin client (kafka-python names)."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap.split(","),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            config.update(ssl_cafile=self.ssl_cafile, ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile,
                          ssl_password=self.ssl_password.get_secret_value() if self.ssl_password else None,
                          ssl_check_hostname=True)
        if self.security_protocol.startswith("SASL"):
            config.update(sasl_mechanism=self.sasl_mechanism or "PLAIN", sasl_plain_username=self.sasl_username,
                          sasl_plain_password=self.sasl_password.get_secret_value() if self.sasl_password else None)
        return config
