"""Settings of the HTTP API, from ``EISO_API_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_API_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address `eiso serve` listens on")
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: str = Field(default="", description="Comma-separated origins allowed by CORS; empty: CORS off")
    max_bpmn_bytes: int = Field(default=5 * MB, ge=1024, description="Largest procedure upload (413 above)")
    max_json_bytes: int = Field(default=2 * MB, ge=1024, description="Largest JSON request body (413 above)")
    max_batch: int = Field(default=1000, ge=1, le=100_000, description="Most events in one POST /events")
    oidc_issuer: str | None = Field(default=None, description="OIDC issuer (`iss`) accepted in bearer JWTs")
    oidc_audience: str | None = Field(default=None, description="Audience (`aud`) the JWTs must name")
    oidc_jwks_url: str | None = Field(default=None, description="URL of the issuer's JWKS")
    oidc_jwks_file: Path | None = Field(default=None, description="A JWKS file, instead of the URL")
    oidc_role_claim: str = Field(default="eiso_role", description="Claim holding the role (string or list)")
    oidc_agency_claim: str = Field(default="eiso_agencies", description="Claim holding agency codes")
    oidc_name_claim: str = Field(default="preferred_username", description="Claim naming the person (else sub)")

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)
