"""``madoguchi serve``: the web server (granian), the outbox worker (unless
``--no-outbox-worker``), with ``MADOGUCHI_TASKS_URL`` the Redis task worker (``madoguchi
rqworker``) and, where the system has
ClamAV and its signatures and no scanner is configured, a clamd of its own; stopped together.

A child that dies is not the end of the service: granian starts a new web worker in place of
one that died (``--respawn-failed-workers``), and this supervisor starts a new outbox worker
(or task worker) —
or a new granian, which gives up by itself when a worker dies again within 5.5 s of its respawn
("crash loop") — after a back-off (1 s, doubling to 60 s while it keeps dying at once), saying
so. Only a granian that stops within its first seconds (the port is taken, say) stops all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from madoguchi.core.admission import ADMISSION_FILE_ENV, admission_file_prepare
from madoguchi.ops.clamd import (
    SYSTEM_SIGNATURES,
    LocalClamd,
    clamd_binary,
    local_clamd_start,
    signature_directory,
)

#: Back-off before starting a child again (granian, the outbox worker): doubled after each
#: death that follows a short run, back to the first value once it has run for
#: ``WORKER_STEADY_SECONDS``.
WORKER_RESTART_FIRST = 1.0
WORKER_RESTART_MAX = 60.0
WORKER_STEADY_SECONDS = 60.0


#: A granian that stops sooner than this after ``serve`` started never worked (the port is
#: taken, the settings are wrong): ``serve`` stops instead of retrying for ever.
SERVER_FIRST_SECONDS = 10.0


class _Supervised:
    """One child process, started again after a back-off whenever it dies."""

    def __init__(self, name: str, english: str, start: Callable[[], subprocess.Popen[bytes]]):
        self.name, self.english, self._start = name, english, start
        self.process = start()
        self.started = time.monotonic()
        self.restart_at: float | None = None
        self.backoff = WORKER_RESTART_FIRST

    def check(self, say: Callable[[str], None]) -> None:
        """Notice a death (and schedule the restart), or restart when the back-off is over."""
        if self.restart_at is None and self.process.poll() is not None:
            # Killed or crashed: what it was doing is redone by its successor (the outbox's
            # leases and locks let go; a web request in flight is answered by no one and the
            # client retries with its Idempotency-Key).
            if time.monotonic() - self.started >= WORKER_STEADY_SECONDS:
                self.backoff = WORKER_RESTART_FIRST
            code = self.process.returncode
            # Whatever it left in its process group (a killed granian's workers) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            say(
                f"{self.name}が停止しました（終了コード {code}）。{self.backoff:g} 秒後に"
                f"起動し直します。(The {self.english} exited with {code}; restarting in "
                f"{self.backoff:g} s.)"
            )
            self.restart_at = time.monotonic() + self.backoff
            self.backoff = min(self.backoff * 2, WORKER_RESTART_MAX)
        if self.restart_at is not None and time.monotonic() >= self.restart_at:
            self.restart_at = None
            self.process = self._start()
            self.started = time.monotonic()
            say(
                f"{self.name}を起動し直しました（PID {self.process.pid}）。"
                f"(The {self.english} was restarted.)"
            )


def server_run_folder(data_dir: Path, *, role: str, port: int) -> Path:
    """This server's own folder under the data directory, ``run/<role>-<port>/``: its
    admission count and its metrics files. Two servers may share one data directory (the
    portal and the console on one machine); each counts and reports only its own requests."""
    folder = data_dir / "run" / f"{role}-{port}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def metrics_folder_prepare(server_folder: Path) -> Path:
    """A fresh, empty folder for prometheus_client's multiprocess mode: every server process
    and the outbox worker write their counts there, and ``/metrics`` adds them up. Emptied at
    each start (counts from an earlier run would otherwise be added in).

    The limit: a granian worker that dies and is replaced while the server runs leaves its
    file behind. Its counters stay in the sums (correct: what it counted happened); its
    "requests in flight" gauge would too, but granian does not tell us the pid to pass to
    ``prometheus_client.multiprocess.mark_process_dead``. The next start clears the folder."""
    folder = server_folder / "metrics"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return folder


def task_worker_argv(*, burst: bool = False) -> list[str]:
    """The Redis task worker: django_rq's ``rqworker`` with django-tasks-rq's job class (which
    runs Django Tasks), on the ``default`` queue of ``RQ_QUEUES``."""
    argv = [sys.executable, "-m", "madoguchi", "rqworker", "--job-class", "django_tasks_rq.Job"]
    return [*argv, "--burst", "default"] if burst else [*argv, "default"]


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
            "--no-outbox-worker",
            action="store_true",
            help="送信ワーカーを起動しません（別のホストで動かすとき。MADOGUCHI_ROLE を参照）",
        )
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
        workers = max(options["workers"], 1)
        # Admission control (madoguchi.core.admission): at most MADOGUCHI_MAX_INFLIGHT requests
        # in flight in the whole server (default --threads × --workers), counted in one file
        # that every worker maps. Each worker gets spare threads beyond --threads, which hold
        # the short queue and answer the excess with 503 instead of leaving it in granian's
        # own queue, where admission control could not see it.
        in_flight = (
            settings.MAX_INFLIGHT if "MADOGUCHI_MAX_INFLIGHT" in environ else threads * workers
        )
        environ["MADOGUCHI_MAX_INFLIGHT"] = str(in_flight)
        own = server_run_folder(Path(settings.DATA_DIR), role=settings.ROLE, port=options["port"])
        environ[ADMISSION_FILE_ENV] = str(admission_file_prepare(own))
        blocking = threads if in_flight <= 0 else threads + max(4, threads)
        # /metrics adds up the counts of every granian worker and the outbox worker.
        environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder_prepare(own))
        # Each child gets its own process group: Ctrl-C reaches only this supervisor, which
        # then sends exactly one SIGTERM to each group (granian shuts down cleanly on one
        # signal; a second one during shutdown can orphan its worker; SIGTERM, unlike an
        # inherited-ignored SIGINT, also stops a child still starting), and a group can be
        # killed whole if it does not stop.
        granian = [
            os.path.join(bin_dir, "granian"),
            "--interface",
            "wsgi",
            "--host",
            options["host"],
            "--port",
            str(options["port"]),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(blocking),
            # A web worker that dies (killed, out of memory) is replaced by a new one.
            "--respawn-failed-workers",
            "--respawn-interval",
            "1",
            "--log-level",
            "warning",
            "madoguchi.conf.wsgi:application",
        ]
        launched = time.monotonic()
        server = _Supervised(
            "Webサーバー（granian）",
            "web server (granian)",
            lambda: subprocess.Popen(granian, start_new_session=True, env=environ),  # noqa: S603
        )
        supervised = [server]
        if not options["no_outbox_worker"]:
            supervised.append(
                _Supervised(
                    "送信ワーカー",
                    "outbox worker",
                    lambda: subprocess.Popen(
                        [sys.executable, "-m", "madoguchi", "outbox_worker"],
                        start_new_session=True,
                        env=environ,
                    ),
                )
            )
        if settings.TASKS_URL:
            # Tasks on Redis: their worker runs beside the outbox worker (which stays the
            # sweeper for anything whose task was lost).
            self.stdout.write("バックグラウンド処理: Redis のワーカーを起動します。")
            supervised.append(
                _Supervised(
                    "Redis のワーカー",
                    "Redis task worker",
                    lambda: subprocess.Popen(  # noqa: S603 (our own executable, fixed arguments)
                        task_worker_argv(), start_new_session=True, env=environ
                    ),
                )
            )
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        scanner_state = "starting" if scanner is not None else "none"
        while not stopping:
            if (
                server.process.poll() is not None
                and time.monotonic() - launched < SERVER_FIRST_SECONDS
            ):
                self.stderr.write(
                    "Webサーバー（granian）が起動できませんでした。上の表示を確認してください。"
                    "(The web server could not start.)"
                )
                break
            for child in supervised:
                child.check(self.stderr.write)
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
        processes = [child.process for child in supervised]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if scanner is not None:
            scanner.stop()
        self.stdout.write("停止しました。")
