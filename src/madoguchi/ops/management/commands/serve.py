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

    def handle(self, *args: Any, **options: Any) -> None:
        bin_dir = os.path.dirname(sys.executable)
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
                "1",
                "--blocking-threads",
                str(options["threads"]),
                "--log-level",
                "warning",
                "madoguchi.conf.wsgi:application",
            ]
        )
        worker = subprocess.Popen([sys.executable, "-m", "madoguchi", "outbox_worker"])
        children = (server, worker)

        def stop(signum: int, frame: FrameType | None) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop(signal.SIGTERM, None)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    # A server stopped while it was still starting may miss the first signal.
                    child.kill()
                    child.wait()
        self.stdout.write("停止しました。")
