"""Signing keys the suite controls, and the ServiceAccount tokens a cluster mints with them."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk, jwt

__all__ = [
    "TOKEN_LIFETIME",
    "SigningKey",
    "kubernetes_kid",
    "mint",
    "service_account_claims",
    "unverified_parts",
]

# A projected ServiceAccount token's usual lifetime (expirationSeconds: 3600).
TOKEN_LIFETIME = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def kubernetes_kid(public_key: rsa.RSAPublicKey) -> str:
    """The kid Kubernetes gives a key: base64url (unpadded) of the SHA-256 of its PKIX DER."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64url(hashlib.sha256(der).digest())


@dataclass(frozen=True)
class SigningKey:
    """An RSA 2048 service-account signing key, as a cluster's API server holds it."""

    private_key: rsa.RSAPrivateKey
    kid: str
    _jwk: Any = field(repr=False, compare=False)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key, with the kid Kubernetes would compute for it."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(private_key, kubernetes_kid(private_key.public_key()), jwk.JWK.from_pem(pem))

    def public_pem(self) -> bytes:
        """The public half as PEM (SubjectPublicKeyInfo), as `--service-account-key-file` reads."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_jwk(self) -> dict[str, str]:
        """The public JWK a cluster serves at `/openid/v1/jwks`."""
        public: dict[str, str] = json.loads(self._jwk.export_public())
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """A JWKS holding this key only."""
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: Mapping[str, Any], *, kid: str) -> str:
        """A compact JWS of the claims, RS256, with `kid` in the header."""
        token = jwt.JWT(header={"alg": "RS256", "kid": kid}, claims=dict(claims))
        token.make_signed_token(self._jwk)
        serialized: str = token.serialize()
        return serialized


def service_account_claims(
    *, issuer: str, namespace: str, name: str, audience: str, now: int
) -> dict[str, Any]:
    """The claims of a token the TokenRequest API returns for one ServiceAccount and audience."""
    return {
        "iss": issuer,
        "sub": f"system:serviceaccount:{namespace}:{name}",
        # Kubernetes always serialises the audiences as a list, even a single one.
        "aud": [audience],
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": "0d5e0f6a-5b8c-4f8e-9c71-1b2f3c4d5e6f"},
        },
    }


def mint(key: SigningKey, claims: Mapping[str, Any], *, kid: str | None = None) -> str:
    """Signs the claims with the key; `kid` overrides the header's key id (to forge a token)."""
    return key.sign(claims, kid=kid if kid is not None else key.kid)


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, read without verifying anything."""
    parts = token.split(".")
    if len(parts) != 3:
        msg = "not a compact JWS"
        raise ValueError(msg)

    def decode(part: str) -> dict[str, Any]:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        if not isinstance(value, dict):
            msg = "a JWS segment is not a JSON object"
            raise ValueError(msg)
        return value

    return decode(parts[0]), decode(parts[1])
