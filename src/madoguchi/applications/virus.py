"""A small client of clamd (ClamAV's daemon), speaking its own protocol.

``zINSTREAM``: the command, NUL-terminated; then chunks, each prefixed with its length as a
4-byte big-endian integer; a zero length ends the stream. clamd answers one NUL-terminated line:
``stream: OK``, ``stream: <signature> FOUND`` or ``<reason> ERROR`` (for example
``INSTREAM size limit exceeded. ERROR`` when the file is larger than its StreamMaxLength).

The address comes from ``MADOGUCHI_CLAMD``: ``unix:/run/clamav/clamd.ctl`` or
``tcp:127.0.0.1:3310``. Nothing here decides what an upload means; see ``attachments``.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Final

from madoguchi.core.metrics import VIRUS_SCANS

CHUNK_SIZE: Final = 64 * 1024
MAX_REPLY: Final = 4096


class ScannerUnavailable(Exception):
    """clamd could not be reached or did not answer in time (the upload must be refused)."""


class ScannerError(ScannerUnavailable):
    """clamd answered with an error instead of a verdict (e.g. the stream is over its limit)."""


@dataclass(frozen=True)
class ClamdAddress:
    family: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.family == "unix" else f"tcp:{self.host}:{self.port}"


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    #: The signature clamd named (e.g. ``Eicar-Test-Signature``); empty when clean.
    signature: str = ""


def clamd_address_parse(text: str) -> ClamdAddress:
    """``unix:/path`` or ``tcp:host:port`` (IPv6 as ``tcp:[::1]:3310``); raises ValueError."""
    family, _, rest = text.strip().partition(":")
    if family == "unix" and rest.startswith("/"):
        return ClamdAddress(family="unix", path=rest)
    if family == "tcp":
        host, _, port = rest.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return ClamdAddress(family="tcp", host=host, port=int(port))
    raise ValueError(
        "clamd の場所は unix:/パス または tcp:ホスト:ポート で指定してください"
        f"（clamd address must be unix:/path or tcp:host:port, not {text!r}）"
    )


def _connect(address: ClamdAddress, timeout: float) -> socket.socket:
    try:
        if address.family == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(address.path)
            except BaseException:
                sock.close()
                raise
            return sock
        return socket.create_connection((address.host, address.port), timeout=timeout)
    except OSError as error:
        raise ScannerUnavailable(f"cannot connect to clamd at {address}: {error}") from None


def _read_reply(sock: socket.socket) -> str:
    reply = b""
    while b"\x00" not in reply and len(reply) < MAX_REPLY:
        chunk = sock.recv(MAX_REPLY)
        if not chunk:
            break
        reply += chunk
    return reply.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()


def clamd_command(*, address: ClamdAddress, command: str, timeout: float) -> str:
    """Send a simple command (``PING``, ``VERSION``) and return clamd's answer."""
    with _connect(address, timeout) as sock:
        try:
            sock.sendall(b"z" + command.encode("ascii") + b"\x00")
            return _read_reply(sock)
        except OSError as error:
            raise ScannerUnavailable(f"clamd at {address} did not answer: {error}") from None


def clamd_scan(*, address: ClamdAddress, data: bytes, timeout: float) -> ScanResult:
    """Scan ``data`` with clamd over INSTREAM.

    Returns the verdict. Raises :class:`ScannerUnavailable` when clamd cannot be reached or
    does not answer within ``timeout`` seconds (per socket operation), and
    :class:`ScannerError` when it answers with an error: no verdict, so never "clean".
    Each outcome is counted in ``/metrics`` (clean, infected, error, unavailable).
    """
    try:
        result = _instream(address=address, data=data, timeout=timeout)
    except ScannerError:
        VIRUS_SCANS.labels("error").inc()
        raise
    except ScannerUnavailable:
        VIRUS_SCANS.labels("unavailable").inc()
        raise
    VIRUS_SCANS.labels("clean" if result.clean else "infected").inc()
    return result


def _instream(*, address: ClamdAddress, data: bytes, timeout: float) -> ScanResult:
    with _connect(address, timeout) as sock:
        try:
            try:
                sock.sendall(b"zINSTREAM\x00")
                view = memoryview(data)
                for start in range(0, len(view), CHUNK_SIZE):
                    chunk = view[start : start + CHUNK_SIZE]
                    sock.sendall(struct.pack(">I", len(chunk)) + bytes(chunk))
                sock.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError):
                # clamd stops reading when the stream passes its StreamMaxLength, answers
                # with an error line and closes: read that line rather than a bare EPIPE.
                pass
            reply = _read_reply(sock)
        except OSError as error:
            raise ScannerUnavailable(f"clamd at {address} did not answer: {error}") from None
    return _verdict(reply, address)


def _verdict(reply: str, address: ClamdAddress) -> ScanResult:
    if reply.endswith("FOUND"):
        _, _, found = reply.partition(": ")
        return ScanResult(clean=False, signature=found.removesuffix("FOUND").strip())
    if reply == "stream: OK" or reply.endswith(": OK"):
        return ScanResult(clean=True)
    if not reply:
        raise ScannerUnavailable(f"clamd at {address} closed the connection without a verdict")
    raise ScannerError(f"clamd at {address} answered: {reply[:200]}")
