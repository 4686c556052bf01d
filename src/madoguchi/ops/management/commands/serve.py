"""``madoguchi serve``: the web server (granian), the outbox worker and, where the system has
ClamAV and its signatures and no scanner is configured, a clamd of its own; stopped together.

A child that dies is not the end of the service: granian starts a new web worker in place of
one that died (``--respawn-failed-workers``), and this supervisor starts a new outbox worker
after a back-off (1 s, doubling to 60 s while it keeps dying at once), saying so. Only the web
server's own main process dying stops everything (its port is gone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from madoguchi.ops.clamd import (
    SYSTEM_SIGNATURES,
    LocalClamd,
    clamd_binary,
    local_clamd_start,
    signature_directory,
)

#: Back-off before starting a new outbox worker: doubled after each death that follows a short
#: run, back to the first value once a worker has run for ``WORKER_STEADY_SECONDS``.
WORKER_RESTART_FIRST = 1.0
WORKER_RESTART_MAX = 60.0
WORKER_STEADY_SECONDS = 60.0


def _worker_start(environ: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "madoguchi", "outbox_worker"],
        start_new_session=True,
        env=environ,
    )


class Command(BaseCommand):
    help = "granian（Webサーバー）と送信ワーカーを起動します。Ctrl-C で両方を止めます。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--threads", type=int, default=4)
        # One process per core: a request is mostly Python (CPU), so threads alone share one
        # core under the GIL.
        parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8))
        parser.add_argument(
            "--clamd-signatures",
            type=Path,
            default=SYSTEM_SIGNATURES,
            help="ClamAV のウイルス定義のあるフォルダ（既定 /var/lib/clamav）",
        )

    def _scanner(self, signatures: Path) -> LocalClamd | None:
        """Say how uploads are scanned; start a clamd of our own when we can and must."""
        configured = str(getattr(settings, "CLAMD", "") or "")
        if configured:
            self.stdout.write(
                f"ウイルス検査: MADOGUCHI_CLAMD の clamd（{configured}）で検査します。"
            )
            return None
        if getattr(settings, "VIRUS_SCAN_EXTERNAL", False):
            self.stdout.write(
                "ウイルス検査: この窓口では行いません（MADOGUCHI_VIRUS_SCAN_EXTERNAL=true:"
                " 別の仕組みで検査）。添付ファイルは「未検査」として保存されます。"
            )
            return None
        binary = clamd_binary()
        found = signature_directory([signatures])
        if binary is None or found is None:
            missing = (
                "clamd（clamav-daemon）" if binary is None else f"ウイルス定義（{signatures}）"
            )
            self.stdout.write(
                self.style.WARNING(
                    f"ウイルス検査: 利用できません（{missing}がありません）。添付ファイルは検査されず、"
                    "「未検査」として保存され、職員の画面に「未検査」と表示されます。"
                    "（No virus scanner: uploads are stored marked unscanned.）"
                )
            )
            return None
        local = local_clamd_start(data_dir=Path(settings.DATA_DIR), signatures=found, binary=binary)
        self.stdout.write(
            f"ウイルス検査: clamd を起動しています（ウイルス定義: {found}、{local.address}）。"
            "定義を読み込み終えるまで、添付ファイルは「しばらくしてから」とお断りします。"
        )
        return local

    def handle(self, *args: Any, **options: Any) -> None:
        bin_dir = os.path.dirname(sys.executable)
        scanner = self._scanner(options["clamd_signatures"])
        environ = dict(os.environ)
        if scanner is not None:
            environ["MADOGUCHI_CLAMD"] = scanner.address
        threads = max(options["threads"], 1)
        # Admission control (madoguchi.core.admission): --threads requests work at once per
        # process; spare threads answer the excess with 503 at once instead of queueing it.
        in_flight = settings.MAX_INFLIGHT if "MADOGUCHI_MAX_INFLIGHT" in environ else threads
        environ["MADOGUCHI_MAX_INFLIGHT"] = str(in_flight)
        blocking = threads if in_flight <= 0 else in_flight + max(4, in_flight)
        # Each child gets its own process group: Ctrl-C reaches only this supervisor, which
        # then sends exactly one SIGTERM to each group (granian shuts down cleanly on one
        # signal; a second one during shutdown can orphan its worker; SIGTERM, unlike an
        # inherited-ignored SIGINT, also stops a child still starting), and a group can be
        # killed whole if it does not stop.
        server = subprocess.Popen(  # noqa: S603 (our own executables, fixed arguments)
            [
                os.path.join(bin_dir, "granian"),
                "--interface",
                "wsgi",
                "--host",
                options["host"],
                "--port",
                str(options["port"]),
                "--workers",
                str(max(options["workers"], 1)),
                "--blocking-threads",
                str(blocking),
                # A web worker that dies (killed, out of memory) is replaced by a new one.
                "--respawn-failed-workers",
                "--respawn-interval",
                "1",
                "--log-level",
                "warning",
                "madoguchi.conf.wsgi:application",
            ],
            start_new_session=True,
            env=environ,
        )
        worker = _worker_start(environ)
        worker_started = time.monotonic()
        restart_at: float | None = None
        backoff = WORKER_RESTART_FIRST
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        scanner_state = "starting" if scanner is not None else "none"
        while not stopping and server.poll() is None:
            if restart_at is None and worker.poll() is not None:
                # The outbox worker died (killed, crashed): what it was sending stays queued
                # (leases and locks let go) and is sent by its successor.
                if time.monotonic() - worker_started >= WORKER_STEADY_SECONDS:
                    backoff = WORKER_RESTART_FIRST
                self.stderr.write(
                    f"送信ワーカーが停止しました（終了コード {worker.returncode}）。"
                    f"{backoff:g} 秒後に起動し直します。"
                    f"(The outbox worker exited with {worker.returncode}; "
                    f"restarting in {backoff:g} s.)"
                )
                restart_at = time.monotonic() + backoff
                backoff = min(backoff * 2, WORKER_RESTART_MAX)
            if restart_at is not None and time.monotonic() >= restart_at:
                restart_at = None
                worker = _worker_start(environ)
                worker_started = time.monotonic()
                self.stderr.write(
                    f"送信ワーカーを起動し直しました（PID {worker.pid}）。"
                    f"(The outbox worker was restarted.)"
                )
            if scanner is not None and scanner_state == "starting":
                if scanner.ready(timeout=0.2):
                    scanner_state = "ready"
                    self.stdout.write(
                        "ウイルス検査: clamd の準備ができました。添付ファイルを検査します。"
                    )
                elif not scanner.running():
                    scanner_state = "stopped"
                    self.stdout.write(
                        self.style.ERROR(
                            "ウイルス検査: clamd が起動できませんでした"
                            f"（{scanner.folder / 'clamd.out'} を確認してください）。"
                            "添付ファイルはお断りします（検査せずに保存はしません）。"
                        )
                    )
            time.sleep(0.3)
        children = (server, worker)
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if scanner is not None:
            scanner.stop()
        self.stdout.write("停止しました。")
