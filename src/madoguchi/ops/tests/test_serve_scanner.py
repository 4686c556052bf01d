"""``madoguchi serve`` (what ``make run`` runs) scans uploads with a real clamd whenever the
system has one and its signatures, and says clearly when it has none.

The signatures here are a self-made EICAR body signature in a temporary folder standing in
for /var/lib/clamav (freshclam never runs, nothing is fetched).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from madoguchi.applications.virus import (
    ScannerUnavailable,
    clamd_address_parse,
    clamd_command,
    clamd_scan,
)
from madoguchi.ops.clamd import clamd_binary


def eicar() -> bytes:
    """The 68-byte EICAR test file, assembled here so that no scanner flags this source."""
    return b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-" + b"ANTIVIRUS-TEST-FILE!$H+H*"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(data_dir: Path, signatures: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MADOGUCHI_")}
    env.update(MADOGUCHI_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", MADOGUCHI_ENV="development")
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir.parent / "serve.out").open("wb") as output:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "madoguchi", "serve", "--port", str(free_port())),
                *("--workers", "1", "--clamd-signatures", str(signatures)),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def said(folder: Path) -> str:
    return (folder / "serve.out").read_text(encoding="utf-8", errors="replace")


def read_until(process: subprocess.Popen[bytes], folder: Path, wanted: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while wanted not in said(folder) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return said(folder)


def stop(process: subprocess.Popen[bytes], folder: Path) -> str:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    return said(folder)


@pytest.fixture
def short_tmp():
    # A short path: a unix socket's path must fit in 108 bytes.
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="mdg-serve-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(clamd_binary() is None, reason="clamd not installed (clamav-daemon)")
def test_serve_starts_clamd_with_the_system_signatures_and_stops_it(short_tmp):
    signatures = short_tmp / "signatures"
    signatures.mkdir()
    (signatures / "madoguchi.ndb").write_text(f"Madoguchi-Test-EICAR:0:*:{eicar().hex()}\n")
    process = serve(short_tmp / "data", signatures)
    try:
        started = read_until(process, short_tmp, "clamd の準備ができました", 120)
        assert "clamd の準備ができました" in started, started
        socket_path = short_tmp / "data" / "clamd" / "clamd.sock"
        assert oct(socket_path.stat().st_mode & 0o777) == "0o600"  # owner-only
        address = clamd_address_parse(f"unix:{socket_path}")
        assert clamd_scan(address=address, data=eicar(), timeout=30).signature == (
            "Madoguchi-Test-EICAR.UNOFFICIAL"
        )
        # The web server and the worker were told where it listens.
        children = [
            child
            for child in Path(f"/proc/{process.pid}/task/{process.pid}/children")
            .read_text()
            .split()
            if b"clamd.conf" not in Path(f"/proc/{child}/cmdline").read_bytes()
        ]
        assert len(children) == 2  # granian and the outbox worker
        for child in children:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            assert f"MADOGUCHI_CLAMD=unix:{socket_path}".encode() in environ
    finally:
        output = stop(process, short_tmp)
    assert "停止しました" in output
    assert not socket_path.exists()
    with pytest.raises(ScannerUnavailable):
        clamd_command(address=address, command="PING", timeout=2)


def test_serve_says_clearly_when_no_scanner_is_available(short_tmp):
    empty = short_tmp / "no-signatures"
    empty.mkdir()
    process = serve(short_tmp / "data", empty)
    try:
        output = read_until(process, short_tmp, "「未検査」として保存", 60)
    finally:
        stop(process, short_tmp)
    assert "ウイルス検査: 利用できません" in output
    assert "「未検査」として保存" in output
    assert not (short_tmp / "data" / "clamd" / "clamd.sock").exists()
