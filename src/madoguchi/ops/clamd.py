"""A clamd of the server's own for ``madoguchi serve`` (``make run``): uploads are virus-scanned
with the system's ClamAV signatures whenever they are installed, without any set-up.

clamd listens on a unix socket in the data directory (owner-only), reads the signatures where
Debian's ``clamav-freshclam`` keeps them (``/var/lib/clamav``) and is stopped with the server.
Nothing is downloaded here: without signatures there is no local scanner, and ``serve`` says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from madoguchi.applications.virus import (
    ScannerUnavailable,
    clamd_address_parse,
    clamd_command,
)

#: Where the system's signatures are (Debian's clamav-freshclam keeps them here).
SYSTEM_SIGNATURES: Final = Path("/var/lib/clamav")
#: Files clamd loads as signature databases (official .cvd/.cld/.cud and self-made ones).
SIGNATURE_SUFFIXES: Final = frozenset({".cvd", ".cld", ".cud", ".ndb", ".hdb", ".ldb", ".hsb"})
#: Above the largest attachment a form may allow (50 MB): clamd must see every byte.
STREAM_MAX_MB: Final = 64
_SOCKET_PATH_MAX: Final = 100  # a unix socket's path must fit in 108 bytes


@dataclass
class LocalClamd:
    process: subprocess.Popen[bytes]
    folder: Path
    socket_path: Path
    signatures: Path

    @property
    def address(self) -> str:
        return f"unix:{self.socket_path}"

    def ready(self, timeout: float = 0.5) -> bool:
        """Whether clamd answers PING (it takes a while to load the signatures)."""
        try:
            address = clamd_address_parse(self.address)
            return clamd_command(address=address, command="PING", timeout=timeout) == "PONG"
        except ScannerUnavailable:
            return False

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.socket_path.unlink(missing_ok=True)


def clamd_binary() -> str | None:
    """The clamd program, if installed (Debian: clamav-daemon, in /usr/sbin)."""
    found = shutil.which("clamd")
    if found:
        return found
    return "/usr/sbin/clamd" if os.access("/usr/sbin/clamd", os.X_OK) else None


def signature_directory(candidates: Iterable[Path]) -> Path | None:
    """The first folder that holds signature databases, or None."""
    for folder in candidates:
        try:
            if folder.is_dir() and any(
                p.suffix in SIGNATURE_SUFFIXES and p.is_file() for p in folder.iterdir()
            ):
                return folder
        except OSError:
            continue
    return None


def local_clamd_start(*, data_dir: Path, signatures: Path, binary: str) -> LocalClamd:
    """Start clamd in its own process group, listening on ``DATA_DIR/clamd/clamd.sock``.

    Returns at once: clamd loads its signatures in the background (about a minute for the
    official ones); until :meth:`LocalClamd.ready`, uploads are refused, never stored unscanned.
    """
    folder = data_dir / "clamd"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket_path = folder / "clamd.sock"
    if len(str(socket_path)) > _SOCKET_PATH_MAX:
        socket_path = Path(tempfile.mkdtemp(prefix="madoguchi-clamd-")) / "clamd.sock"
    socket_path.unlink(missing_ok=True)  # left by a clamd that did not stop cleanly
    config = folder / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                f"LocalSocket {socket_path}",
                "LocalSocketMode 600",
                f"DatabaseDirectory {signatures}",
                f"TemporaryDirectory {folder}",
                f"LogFile {folder / 'clamd.log'}",
                "Foreground yes",
                f"StreamMaxLength {STREAM_MAX_MB}M",
                f"MaxFileSize {STREAM_MAX_MB}M",
                "",
            ]
        ),
        encoding="utf-8",
    )
    output = (folder / "clamd.out").open("wb")
    try:
        process = subprocess.Popen(  # noqa: S603 (the system's clamd, our own config file)
            [binary, "-c", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        output.close()
    return LocalClamd(
        process=process, folder=folder, socket_path=socket_path, signatures=signatures
    )
