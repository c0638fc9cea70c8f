"""JWT verification and minting (pyjwt), with the algorithm pinned from the configured key."""

from __future__ import annotations

import math
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .core.errors import AgentError
from .settings import Settings

VERIFIED_CACHE_SIZE = 256


def _read_pem(value: str) -> bytes:
    if "-----BEGIN" in value:
        return value.encode()
    return Path(value).read_bytes()


def algorithm_for_public_key(pem: bytes) -> str:
    key = load_pem_public_key(pem)
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name != "secp256r1":
            raise ValueError(f"unsupported EC curve {key.curve.name}; ES256 needs P-256")
        return "ES256"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise ValueError("unsupported public key type; use RSA, EC P-256 or Ed25519")


def ensure_secret(settings: Settings) -> bool:
    """With no key configured, load or generate a secret kept in the state dir. True if generated now."""
    if settings.jwt_secret or settings.jwt_public_key:
        return False
    state = Path(settings.state_dir)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state / "secret"
    if path.exists():
        settings.jwt_secret = path.read_text().strip()
        return False
    settings.jwt_secret = secrets.token_urlsafe(48)
    _write_private(path, settings.jwt_secret + "\n")
    return True


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def write_token_file(settings: Settings, token: str) -> Path:
    state = Path(settings.state_dir)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state / "token"
    _write_private(path, token + "\n")
    return path


class Authenticator:
    """Verifies bearer tokens with one pinned algorithm (from the key type) and mints tokens."""

    def __init__(self, settings: Settings):
        self.audience = settings.jwt_audience or None
        self.issuer = settings.jwt_issuer or None
        self.leeway = settings.jwt_leeway
        self.ttl = settings.token_ttl
        self._verified: dict[str, dict] = {}  # token -> claims, oldest first
        if settings.jwt_public_key:
            pem = _read_pem(settings.jwt_public_key)
            self.algorithm = algorithm_for_public_key(pem)
            self.verify_key: Any = load_pem_public_key(pem)  # one of the key types algorithm_for_public_key accepts
            self.signing_key: Any = None
        elif settings.jwt_secret:
            self.algorithm = "HS256"
            self.verify_key = self.signing_key = settings.jwt_secret
        else:
            raise ValueError("no JWT key configured")

    def verify(self, authorization: str | None, schemes: tuple[str, ...] = ("bearer",)) -> dict:
        """Check an Authorization header value ("Bearer <jwt>", or another of `schemes`) and return the claims."""
        if not authorization:
            raise AgentError(
                "AUTHENTICATION_REQUIRED", 401, "Authentication required: send Authorization: Bearer <token>"
            )
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in schemes or not token.strip():
            raise AgentError("AUTHENTICATION_REQUIRED", 401, "Authentication required: use the Bearer scheme")
        return self.verify_token(token.strip())

    def accepts(self, value: str) -> bool:
        """True if a header value carries a token this agent accepts (bare or after a scheme)."""
        for word in value.split():
            try:
                self.verify_token(word)
            except AgentError:
                continue
            return True
        return False

    def verify_token(self, token: str) -> dict:
        """Verify a token; a token already verified is served from a small cache until it expires,
        since signature checks cost ~0.1 ms and clients send the same token on every call."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims["exp"] + self.leeway > time.time():
                return claims
            del self._verified[token]
        claims = self._decode(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = claims
        return claims

    def _decode(self, token: str) -> dict:
        claims = self._verify_signature(token)
        exp = claims.get("exp")
        # pyjwt accepts a numeric string as exp; the contract (RFC 7519) says a number.
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
            raise AgentError("INVALID_TOKEN", 401, "Invalid token: the exp claim must be a number")
        return claims

    def _verify_signature(self, token: str) -> dict:
        try:
            return jwt.decode(
                token,
                self.verify_key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise AgentError("INVALID_TOKEN", 401, "Token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise AgentError("INVALID_TOKEN", 401, f"Invalid token: {exc}") from None

    def mint(self, ttl: int | None = None, subject: str = "kernelagent", signing_key=None) -> str:
        key = signing_key if signing_key is not None else self.signing_key
        if key is None:
            raise ValueError("a public key cannot mint tokens; pass the private key")
        now = int(time.time())
        claims = {"sub": subject, "iat": now, "exp": now + (ttl or self.ttl)}
        if self.audience:
            claims["aud"] = self.audience
        if self.issuer:
            claims["iss"] = self.issuer
        return jwt.encode(claims, key, algorithm=self.algorithm)
