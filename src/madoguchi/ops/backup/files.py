"""The stored files of a backup: everything in ``storages["default"]``, read and written only
through the storage API, so the same code serves the local data directory and object storage.

Attachments are stored encrypted by the application (``core.crypto``), each under a name whose
last part is its attachment's id (hex); the manifest records the digest of the stored bytes of
every file, and verification also decrypts each attachment and checks it against the SHA-256
its row recorded at upload.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import IO, Final

from django.core.files.base import File
from django.core.files.storage import Storage, storages

from madoguchi.core.storage import TEMPORARY_PREFIX, TEMPORARY_SUFFIX

STORAGE_ALIAS: Final = "default"
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
READ_BYTES: Final = 1024 * 1024


def storage() -> Storage:
    return storages[STORAGE_ALIAS]


def _temporary(name: str) -> bool:
    return name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)


def stored_names(store: Storage | None = None) -> Iterator[str]:
    """Every file in the storage (a crash's leftover temporary names aside), folder by folder."""
    store = store or storage()
    folders = [""]
    while folders:
        folder = folders.pop()
        try:
            subfolders, names = store.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        prefix = f"{folder}/" if folder else ""
        folders.extend(prefix + sub for sub in sorted(subfolders, reverse=True))
        for name in sorted(names):
            if not _temporary(name):
                yield prefix + name


def attachment_id_of(name: str) -> str | None:
    """The attachment id a stored name carries (its last part, 32 hex digits), or ``None``."""
    last = name.rsplit("/", 1)[-1]
    return last if _HEX_ID.match(last) else None


def safe_name(name: str) -> bool:
    """Whether ``name`` is a plain relative storage name (no absolute path, no ``..``)."""
    parts = name.split("/")
    return (
        bool(name)
        and "\\" not in name
        and "\x00" not in name
        and all(part not in {"", ".", ".."} for part in parts)
    )


class HashingReader:
    """Reads a file object through SHA-256 (what ``tarfile`` copies is what is hashed)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.sha256.update(data)
        self.bytes += len(data)
        return data


def digest_of(name: str, store: Storage | None = None) -> tuple[str, int]:
    """SHA-256 and size of a stored file (raises ``OSError`` when it is missing)."""
    store = store or storage()
    digest = hashlib.sha256()
    size = 0
    with store.open(name, "rb") as handle:
        while chunk := handle.read(READ_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def file_put(name: str, content: IO[bytes], store: Storage | None = None) -> str:
    """Store ``content`` under exactly ``name`` (returns the name the storage used)."""
    store = store or storage()
    return store.save(name, File(content))
