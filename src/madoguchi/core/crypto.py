"""Application-level encryption of sensitive values (My Number, bank accounts).

Keys live outside the database: ``MADOGUCHI_ENCRYPTION_KEYS`` (comma-separated Fernet keys,
newest first, so keys can be rotated), or for the embedded default a key file generated once
in the data directory. A database dump alone never reveals a My Number.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(RuntimeError):
    """A value cannot be decrypted with the configured keys."""


def _key_file(data_dir: Path) -> str:
    path = data_dir / "encryption_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(settings.ENCRYPTION_KEYS) or [_key_file(Path(settings.DATA_DIR))]
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise DecryptionFailed(
            "暗号化された値を復号できません（鍵の設定を確認してください）。"
        ) from None


def encrypt_bytes(data: bytes) -> bytes:
    """Encrypt a file's bytes (an attachment) with the current key; the token is ASCII bytes."""
    return _fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    """Decrypt what :func:`encrypt_bytes` wrote, with any configured key (rotation)."""
    try:
        return _fernet().decrypt(token)
    except (InvalidToken, ValueError):
        raise DecryptionFailed(
            "暗号化されたファイルを復号できません（鍵の設定を確認してください）。"
        ) from None
