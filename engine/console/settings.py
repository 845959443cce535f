"""Settings of the web console, from ``EISO_CONSOLE_*`` environment variables (and ``EISO_GRAFANA_URL``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EISO_CONSOLE_", extra="ignore", populate_by_name=True)

    session_hours: float = Field(default=8, gt=0, le=24 * 30, description="How long a sign-in lasts")
    secure_cookies: bool | None = Field(
        default=None, description="Mark cookies Secure; default: when the request came over HTTPS (behind a "
                                  "proxy, run uvicorn with --proxy-headers so the scheme is seen)")
    language: str = Field(default="vi", pattern="^(vi|en)$", description="Language of the pages until a user "
                                                                          "switches")
    grafana_url: str | None = Field(default=None, validation_alias=AliasChoices("EISO_GRAFANA_URL",
                                                                                 "EISO_CONSOLE_GRAFANA_URL"),
                                    description="Grafana's address: the reports link to its dashboards")
    oidc_client_id: str | None = Field(default=None, description="The console's OIDC client id: sign-in "
                                                                 "through the issuer (authorization code + PKCE)")
    oidc_client_secret: str | None = Field(default=None, description="Its secret, for a confidential client")
    oidc_authorization_url: str | None = Field(default=None, description="Default: from the issuer's discovery "
                                                                         "document")
    oidc_token_url: str | None = Field(default=None, description="Default: from the issuer's discovery document")
    oidc_scope: str = Field(default="openid profile")
