"""``madoguchi serve`` outlives its children: a web worker killed with SIGKILL is replaced by
granian, the outbox worker killed with SIGKILL is started again by the supervisor (which says
so), as is granian itself, and the whole still stops cleanly on SIGTERM.

Real processes, real signals: slow (it starts ``serve`` once and waits out its 10-second start
window, about 20 s on an idle machine), because a supervisor is only proven by killing what it
supervises."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from madoguchi.ops.management.commands.serve import SERVER_FIRST_SECONDS
from madoguchi.testing import free_port

#: Generous deadlines for a loaded machine: a wait ends as soon as its condition holds.
DEADLINE = 120.0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def answers(port: int) -> bool:
    try:
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mdg-supervise-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_serve_replaces_a_killed_web_worker_and_restarts_a_killed_outbox_worker(
    folder: Path,
) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MADOGUCHI_")}
    env.update(
        MADOGUCHI_DATA_DIR=str(folder / "data"),
        MADOGUCHI_VIRUS_SCAN_EXTERNAL="1",
        PYTHONUNBUFFERED="1",
    )
    output = folder / "serve.out"
    launched = time.monotonic()
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "madoguchi", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )

    def said() -> str:
        return output.read_text(encoding="utf-8", errors="replace")

    def granian() -> int:
        return next(c for c in children(process.pid) if "granian" in cmdline(c))

    def outbox() -> list[int]:
        return [c for c in children(process.pid) if "outbox_worker" in cmdline(c)]

    try:
        until(lambda: answers(port) and children(granian()) and outbox(), "serve to start")
        (web,) = children(granian())
        (worker,) = outbox()

        os.kill(worker, signal.SIGKILL)
        until(lambda: "送信ワーカーを起動し直しました" in said(), "the outbox worker's restart")
        until(outbox, "a new outbox worker")
        assert outbox() != [worker]
        assert "送信ワーカーが停止しました（終了コード -9）" in said()

        os.kill(web, signal.SIGKILL)
        until(lambda: children(granian()) not in ([], [web]), "a new web worker")
        until(lambda: answers(port), "the new web worker to answer")

        # granian itself (its main process) dies after it had started: restarted too, and
        # the dead one's workers go with it (nothing is left holding the port).
        until(lambda: time.monotonic() - launched >= SERVER_FIRST_SECONDS, "the start window")
        old = granian()
        os.kill(old, signal.SIGKILL)
        until(lambda: "Webサーバー（granian）を起動し直しました" in said(), "granian's restart")
        until(lambda: answers(port) and granian() != old, "the new granian to answer")
        assert process.poll() is None  # the supervisor stayed up through every death
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert "停止しました。" in said()
