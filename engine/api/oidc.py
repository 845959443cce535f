"""OIDC bearer tokens: RS256 JWTs checked against the configured issuer's keys (JWKS).

The token must carry ``iss`` (the configured issuer), ``aud`` (the configured audience, when
set), ``exp`` and ``sub``; the role and agencies come from configurable claims. A role claim
may be a string or a list: the first known role in it is taken.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

import jwt

from engine.api.roles import Role
from engine.api.scope import BadAgencyCode, check_code
from engine.api.settings import ApiSettings

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 30


class OidcRefused(Exception):
    """The bearer token is not acceptable; the message says why without echoing it."""


@dataclass(frozen=True)
class OidcIdentity:
    name: str
    role: Role
    agencies: tuple[str, ...]


class OidcVerifier:
    def __init__(self, settings: ApiSettings):
        if not settings.oidc_issuer:
            raise ValueError("EISO_API_OIDC_ISSUER is not set")
        self.settings = settings
        self._client: jwt.PyJWKClient | None = None
        self._keys: jwt.PyJWKSet | None = None
        if settings.oidc_jwks_file is not None:
            try:
                text = settings.oidc_jwks_file.read_text(encoding="utf-8")
                self._keys = jwt.PyJWKSet.from_dict(json.loads(text))
            except (OSError, ValueError, jwt.PyJWTError) as err:
                raise ValueError(f"EISO_API_OIDC_JWKS_FILE: cannot read a JWKS: {err}") from None
        elif settings.oidc_jwks_url:
            self._client = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, timeout=10)
        else:
            raise ValueError("OIDC needs EISO_API_OIDC_JWKS_URL or EISO_API_OIDC_JWKS_FILE")

    def _key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcRefused("malformed bearer token") from None
        if header.get("alg") not in ALGORITHMS:
            raise OidcRefused("bearer token not signed with RS256")
        kid = header.get("kid")
        if self._client is not None:
            if not isinstance(kid, str):
                raise OidcRefused("the bearer token names no key id")
            try:
                return self._client.get_signing_key(kid).key
            except jwt.PyJWKClientError:
                raise OidcRefused("no key of the issuer matches the token's key id") from None
        assert self._keys is not None
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise OidcRefused("no key of the issuer matches the token's key id")

    def verify(self, token: str) -> OidcIdentity:
        key = self._key(token)
        s = self.settings
        try:
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, issuer=s.oidc_issuer, audience=s.oidc_audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "sub"], "verify_aud": s.oidc_audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise OidcRefused("bearer token expired") from None
        except jwt.PyJWTError as err:
            raise OidcRefused(f"bearer token refused: {type(err).__name__}") from None
        return OidcIdentity(name=_name(claims, s.oidc_name_claim), role=_role(claims.get(s.oidc_role_claim)),
                            agencies=_agencies(claims.get(s.oidc_agency_claim)))


def _name(claims: dict[str, Any], claim: str) -> str:
    """``oidc:`` and the person's name claim (else ``sub``), refused rather than cleaned when unfit.

    The name is the actor of every audit entry the person writes: cleaning it (dropping a
    character, cutting it short) could make two identities one, so an unfit name refuses the token.
    """
    value = claims.get(claim)
    source, name = (claim, value) if isinstance(value, str) and value else ("sub", claims["sub"])
    if not isinstance(name, str):
        raise OidcRefused("the token's sub claim is not text")
    problem = name_problem(name)
    if problem:
        raise OidcRefused(f"the token's {source} claim {problem}")
    return NAME_PREFIX + name


NAME_PREFIX = "oidc:"
MAX_NAME = 200 - len(NAME_PREFIX)  # the audit log's actor column holds 200 characters


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a person in the audit log, or None."""
    if not name or len(name) > MAX_NAME:
        return f"must be 1 to {MAX_NAME} characters"
    if name != name.strip():
        return "has surrounding whitespace"
    for ch in name:
        if ch == "\x00":
            return "contains a NUL character"
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            return "contains a control character or a lone surrogate"
    return None


def _role(value: Any) -> Role:
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    for item in values:
        if isinstance(item, str) and item in Role.__members__:
            return Role(item)
    raise OidcRefused("the token carries no eiso role")


def _agencies(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    if values is None or not all(isinstance(v, str) for v in values):
        raise OidcRefused("the token's agency claim is not a code or a list of codes")
    try:
        return tuple(check_code(v) for v in values)
    except BadAgencyCode as err:
        raise OidcRefused(f"the token's agency claim: {err}") from None
