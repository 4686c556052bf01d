"""``madoguchi serve``: the web server (granian) and the outbox worker, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "granian（Webサーバー）と送信ワーカーを起動します。Ctrl-C で両方を止めます。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--threads", type=int, default=4)
        # One process per core: a request is mostly Python (CPU), so threads alone share one
        # core under the GIL.
        parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8))

    def handle(self, *args: Any, **options: Any) -> None:
        bin_dir = os.path.dirname(sys.executable)
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
                str(options["threads"]),
                "--log-level",
                "warning",
                "madoguchi.conf.wsgi:application",
            ],
            start_new_session=True,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "madoguchi", "outbox_worker"], start_new_session=True
        )
        children = (server, worker)
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.3)
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.stdout.write("停止しました。")
