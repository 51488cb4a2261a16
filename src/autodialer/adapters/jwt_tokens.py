"""HS256 JWTs with PyJWT: implements ``services.auth_service.TokenCodec``.

Only HS256 is accepted on decode (no ``alg`` confusion). Expiry is not checked here: the service checks ``exp``
against its injected clock. An empty secret means a random per-process one: tokens then die with the process and are
not accepted by other instances (set ``AUTODIALER_JWT_SECRET`` for several instances; production requires it).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

import jwt

log = logging.getLogger(__name__)


class Hs256Tokens:
    def __init__(self, secret: str) -> None:
        if not secret:
            log.warning("jwt_secret is not set: using a random per-process secret; tokens die with this process")
        self._secret = secret or secrets.token_urlsafe(48)

    def encode(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self._secret, algorithm="HS256")

    def decode(self, token: str) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["exp", "sub"]},
            )
        except jwt.InvalidTokenError:
            return None
        return claims
