"""Signed tokens (PyJWT, HS256) and password hashing (scrypt from the standard library)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

import jwt

from ..domain.errors import Unauthenticated
from ..domain.ports import PasswordHasher, TokenSigner

ISSUER = "kefu"


class JwtSigner(TokenSigner):
    def __init__(self, secret: str, clock: Any = time.time) -> None:
        self._secret = secret
        self._clock = clock

    def issue(self, claims: dict[str, Any], ttl_seconds: int) -> str:
        now = int(self._clock())
        payload = {**claims, "iss": ISSUER, "iat": now, "exp": now + ttl_seconds}
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def verify(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("invalid token") from None


class ScryptHasher(PasswordHasher):
    """scrypt with per-password salt; parameters stored with the hash so they can be raised later."""

    def __init__(self, n: int = 2**14, r: int = 8, p: int = 1) -> None:
        self._n, self._r, self._p = n, r, p

    def hash(self, password: str) -> str:
        salt = os.urandom(16)
        digest = hashlib.scrypt(password.encode(), salt=salt, n=self._n, r=self._r, p=self._p, dklen=32)
        return "scrypt${}${}${}${}${}".format(
            self._n, self._r, self._p,
            base64.b64encode(salt).decode(), base64.b64encode(digest).decode(),
        )

    def verify(self, password: str, encoded: str) -> bool:
        try:
            scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        except ValueError:
            return False
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(digest, base64.b64decode(digest_b64))
