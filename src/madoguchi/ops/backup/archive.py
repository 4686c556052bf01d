"""The encrypted backup file: AES-256-GCM in a chunked stream, with a key kept apart.

Layout (all integers big-endian)::

    MAGIC (16 bytes)  "MADOGUCHI-BACKUP"
    header length (4 bytes), header (UTF-8 JSON)
    chunk*: ciphertext length (4 bytes), ciphertext (plaintext + 16-byte GCM tag)

The header names the format version, the key's fingerprint, the installation id, the
database vendor, a random 32-byte salt and a random 4-byte nonce prefix. Each archive gets its
own AES key, derived from the backup key and the salt (HKDF-SHA256), so that nonces can never
repeat across archives made with one key. Chunk ``i`` (plaintext up to ``CHUNK_BYTES``) is
sealed with the nonce ``prefix ‖ i`` (8-byte counter) and the associated data
``SHA-256(magic ‖ header) ‖ i ‖ final``, where ``final`` is 1 for the last chunk only. So:

- any change to the header or a chunk fails that chunk's tag (``Corrupted``);
- chunks cannot be reordered, dropped or repeated (the counter is in the nonce);
- an archive cut off at any byte, even exactly between chunks, lacks its final chunk
  (``Truncated``); bytes after the final chunk are refused (``Corrupted``);
- another key is named by its fingerprint before any decryption (``WrongKey``).

Nothing is held in memory beyond one chunk: backups can be many gigabytes.

The backup key is 32 random bytes in a key file made by ``madoguchi backup keygen``
(``madoguchi-backup-key-1:`` and the bytes in URL-safe base64, mode 0600). The key file is
never written into a backup; keep it apart from them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from madoguchi.ops.backup.errors import Corrupted, KeyFileProblem, NotABackup, Truncated, WrongKey

MAGIC: Final = b"MADOGUCHI-BACKUP"
FORMAT_VERSION: Final = 1
CHUNK_BYTES: Final = 1024 * 1024
TAG_BYTES: Final = 16
KEY_PREFIX: Final = "madoguchi-backup-key-1:"
_MAX_HEADER_BYTES: Final = 64 * 1024
_LENGTH = struct.Struct(">I")


# --- The key --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupKey:
    """A loaded backup key and its public fingerprint."""

    secret: bytes

    @property
    def fingerprint(self) -> str:
        """Names the key without revealing it (HMAC of a fixed label, 16 bytes, hex)."""
        return hmac.new(self.secret, b"madoguchi-backup-key-fingerprint", "sha256").hexdigest()[:32]


def key_generate(path: Path) -> BackupKey:
    """Write a new random key to ``path`` (created 0600; an existing file is never replaced).

    Raises :class:`KeyFileProblem` when the file exists or cannot be written.
    """
    secret = secrets.token_bytes(32)
    text = KEY_PREFIX + base64.urlsafe_b64encode(secret).decode("ascii") + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileProblem(
            f"鍵ファイル {path} はすでにあります。上書きはしません"
            "（the key file already exists; it is never overwritten）。"
        ) from None
    except OSError as error:
        raise KeyFileProblem(
            f"鍵ファイル {path} を作れません（cannot create the key file: {error.strerror}）。"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return BackupKey(secret)


def key_load(path: Path) -> BackupKey:
    """Read the key file at ``path``.

    Raises :class:`KeyFileProblem` when it is missing, readable by group or others, or not
    a key made by ``madoguchi backup keygen``.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise KeyFileProblem(
            f"鍵ファイル {path} がありません（the backup key file does not exist）。"
            "madoguchi backup keygen --out で作り、MADOGUCHI_BACKUP_KEY_FILE に指定してください。"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileProblem(
            f"鍵ファイル {path} を読めません（cannot read the backup key file: {error}）。"
        ) from None
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileProblem(
            f"鍵ファイル {path} がほかの利用者にも読める設定です。chmod 600 {path} としてください"
            "（the backup key file must be readable by its owner only）。"
        )
    if not text.startswith(KEY_PREFIX):
        raise KeyFileProblem(
            f"{path} はバックアップの鍵ファイルではありません（not a Madoguchi backup key file）。"
        )
    try:
        secret = base64.urlsafe_b64decode(text[len(KEY_PREFIX) :].encode("ascii"))
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise KeyFileProblem(
            f"鍵ファイル {path} の内容が壊れています（the backup key file is damaged）。"
        )
    return BackupKey(secret)


# --- Writing --------------------------------------------------------------------------------


def _archive_key(key: BackupKey, salt: bytes) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"madoguchi-backup-archive-1"
    ).derive(key.secret)
    return AESGCM(derived)


def _associated(header_digest: bytes, counter: int, final: bool) -> bytes:
    return header_digest + counter.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """A write-only binary stream that encrypts into ``sink`` (call :meth:`close` to finish:
    the final chunk is what marks the archive complete)."""

    def __init__(self, sink: BinaryIO, *, key: BackupKey, header: Mapping[str, Any]) -> None:
        salt = secrets.token_bytes(32)
        self._prefix = secrets.token_bytes(4)
        document = dict(header)
        document.update(
            {
                "format": FORMAT_VERSION,
                "cipher": "AES-256-GCM",
                "kdf": "HKDF-SHA256",
                "salt": salt.hex(),
                "nonce_prefix": self._prefix.hex(),
                "chunk_bytes": CHUNK_BYTES,
                "key_fingerprint": key.fingerprint,
            }
        )
        header_bytes = json.dumps(document, sort_keys=True).encode("utf-8")
        preamble = MAGIC + _LENGTH.pack(len(header_bytes)) + header_bytes
        self._digest = hashlib.sha256(preamble).digest()
        self._aead = _archive_key(key, salt)
        self._sink = sink
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        self.bytes_in = 0
        sink.write(preamble)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed backup stream")
        self._buffer += data
        self.bytes_in += len(data)
        # Keep at least one byte back: the last chunk is only known at close.
        while len(self._buffer) > CHUNK_BYTES:
            self._seal(bytes(self._buffer[:CHUNK_BYTES]), final=False)
            del self._buffer[:CHUNK_BYTES]
        return len(data)

    def _seal(self, plain: bytes, *, final: bool) -> None:
        nonce = self._prefix + self._counter.to_bytes(8, "big")
        sealed = self._aead.encrypt(nonce, plain, _associated(self._digest, self._counter, final))
        self._sink.write(_LENGTH.pack(len(sealed)) + sealed)
        self._counter += 1

    def close(self) -> None:
        if not self._closed:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._closed = True

    def flush(self) -> None:
        """Nothing to flush before :meth:`close` (a partial chunk waits for more data)."""


# --- Reading --------------------------------------------------------------------------------


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise Truncated(
            "バックアップが途中で切れています。コピーが最後まで終わっているか確かめてください"
            "（the backup is truncated）。"
        )
    return data


def header_read(source: BinaryIO) -> tuple[dict[str, Any], bytes]:
    """The header of an archive and the digest its chunks are bound to.

    Raises :class:`NotABackup` or :class:`Truncated`.
    """
    magic = source.read(len(MAGIC))
    if magic != MAGIC:
        if len(magic) < len(MAGIC) and MAGIC.startswith(magic) and magic:
            raise Truncated("バックアップが途中で切れています（the backup is truncated）。")
        raise NotABackup(
            "このファイルは窓口のバックアップではありません（not a Madoguchi backup）。"
        )
    (length,) = _LENGTH.unpack(_read_exactly(source, _LENGTH.size))
    if length > _MAX_HEADER_BYTES:
        raise Corrupted("バックアップの見出しが壊れています（the backup's header is damaged）。")
    header_bytes = _read_exactly(source, length)
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict):
        raise Corrupted("バックアップの見出しが壊れています（the backup's header is damaged）。")
    if header.get("format") != FORMAT_VERSION:
        raise NotABackup(
            f"このバックアップの形式（{header.get('format')!r}）はこの版では読めません"
            "（unknown backup format version）。"
        )
    digest = hashlib.sha256(MAGIC + _LENGTH.pack(length) + header_bytes).digest()
    return header, digest


class DecryptingReader:
    """A read-only binary stream of an archive's plaintext, checked chunk by chunk.

    Construct with the source positioned after the header (:func:`header_read`). Raises
    :class:`WrongKey` at once for another key's archive; while reading, :class:`Corrupted`
    or :class:`Truncated`. End of stream is only reported after the final chunk verified.
    """

    def __init__(
        self, source: BinaryIO, *, key: BackupKey, header: Mapping[str, Any], digest: bytes
    ) -> None:
        if header.get("key_fingerprint") != key.fingerprint:
            raise WrongKey(
                "このバックアップは別の鍵で暗号化されています。作成時の鍵ファイルを"
                "MADOGUCHI_BACKUP_KEY_FILE（または --key-file）に指定してください"
                "（the backup was encrypted with another key）。"
            )
        try:
            salt = bytes.fromhex(str(header["salt"]))
            self._prefix = bytes.fromhex(str(header["nonce_prefix"]))
            chunk_bytes = int(header["chunk_bytes"])
        except (KeyError, ValueError, TypeError):
            chunk_bytes = -1
        # The header is only authenticated by the chunks read with it: a chunk size from an
        # edited header must not decide how much is read (up to 4 GiB at once). Every archive
        # is written with CHUNK_BYTES; anything else is damage.
        if chunk_bytes != CHUNK_BYTES:
            raise Corrupted(
                "バックアップの見出しが壊れています（the backup's header is damaged）。"
            )
        self._limit = chunk_bytes + TAG_BYTES
        self._aead = _archive_key(key, salt)
        self._digest = digest
        self._source = source
        self._counter = 0
        self._buffer = bytearray()
        self._offset = 0
        self._done = False
        self._pending = self._next_sealed()
        self.chunks = 0

    def _next_sealed(self) -> bytes | None:
        raw = self._source.read(_LENGTH.size)
        if not raw:
            return None
        if len(raw) < _LENGTH.size:
            _read_exactly(self._source, _LENGTH.size)  # raises Truncated
        (length,) = _LENGTH.unpack(raw)
        if length < TAG_BYTES or length > self._limit:
            raise Corrupted(
                f"バックアップの {self._counter + 1} 番目の区画が壊れています"
                "（a chunk of the backup is damaged）。"
            )
        return _read_exactly(self._source, length)

    def _open(self, sealed: bytes, final: bool) -> bytes | None:
        nonce = self._prefix + self._counter.to_bytes(8, "big")
        try:
            return self._aead.decrypt(
                nonce, sealed, _associated(self._digest, self._counter, final)
            )
        except InvalidTag:
            return None

    def _advance(self) -> None:
        sealed = self._pending
        if sealed is None:
            raise Truncated(
                "バックアップが途中で切れています。コピーが最後まで終わっているか確かめてください"
                "（the backup is truncated）。"
            )
        following = self._next_sealed()
        final = following is None
        plain = self._open(sealed, final)
        if plain is None:
            if self._open(sealed, not final) is not None:
                if final:
                    raise Truncated(
                        "バックアップが途中で切れています。コピーが最後まで終わっているか"
                        "確かめてください（the backup is truncated）。"
                    )
                raise Corrupted(
                    "バックアップの終わりのあとに余分なデータがあります"
                    "（data after the end of the backup）。"
                )
            raise Corrupted(
                f"バックアップの {self._counter + 1} 番目の区画が壊れているか、書き換えられています"
                "（a chunk of the backup fails its integrity check）。"
            )
        self._counter += 1
        self.chunks += 1
        self._pending = following
        self._done = final
        if self._offset:
            del self._buffer[: self._offset]
            self._offset = 0
        self._buffer += plain

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while not self._done:
                self._advance()
            size = len(self._buffer) - self._offset
        while len(self._buffer) - self._offset < size and not self._done:
            self._advance()
        end = min(self._offset + size, len(self._buffer))
        data = bytes(self._buffer[self._offset : end])
        self._offset = end
        return data

    def drain(self) -> None:
        """Read and check what is left (every remaining chunk), discarding it."""
        while not self._done:
            self._buffer.clear()
            self._offset = 0
            self._advance()
        self._buffer.clear()
        self._offset = 0
