"""The relying party's keys: one to sign client assertions, one that JWEs are encrypted to.

A real deployment names PEM files in settings (the provider registered their public halves,
usually as the JWKS this installation serves at ``/account/oidc/<provider>/jwks.json``). For
the demo identity provider, an RSA pair of each kind is generated once into
``<data dir>/oidc/`` (mode 0600) and reused.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwk

SigningKey = jwk.RSAKey | jwk.ECKey


def key_file_ensure(path: Path) -> Path:
    """Create an RSA-2048 private key at ``path`` unless one is there (demo keys only)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    try:
        os.link(temporary, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path


@lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> SigningKey:
    data = Path(path).read_bytes()
    private = serialization.load_pem_private_key(data, password=None)
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < 2048:
            raise ValueError(f"{path}: RSA keys need at least 2048 bits")
        key: SigningKey = jwk.RSAKey.import_key(data)
    elif isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1":
        key = jwk.ECKey.import_key(data)
    else:
        raise ValueError(f"{path}: use an RSA (2048+) or a P-256 key")
    key.ensure_kid()
    return key


def private_key(path: Path) -> SigningKey:
    return _load(str(path), path.stat().st_mtime)


def signing_alg(key: SigningKey) -> str:
    return "ES256" if isinstance(key, jwk.ECKey) else "RS256"


def public_jwks(*, signing: Path, encryption: Path | None) -> dict[str, Any]:
    """The RP's public keys as a JWKS (what the OP verifies assertions with and encrypts to)."""
    keys = []
    sig = private_key(signing)
    keys.append(
        {**sig.as_dict(private=False), "use": "sig", "alg": signing_alg(sig), "kid": sig.kid}
    )
    if encryption is not None:
        enc = private_key(encryption)
        if isinstance(enc, jwk.RSAKey):
            keys.append(
                {**enc.as_dict(private=False), "use": "enc", "alg": "RSA-OAEP-256", "kid": enc.kid}
            )
    return {"keys": keys}
