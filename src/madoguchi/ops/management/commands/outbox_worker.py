"""``madoguchi outbox_worker``: deliver queued mail until stopped (or once with ``--once``)."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from madoguchi.core.time import now
from madoguchi.notifications.services import outbox_deliver_email


class Command(BaseCommand):
    help = "送信待ちのメールを配信します。失敗したものは間隔をあけて再送します。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="1回だけ配信して終了する")
        parser.add_argument("--interval", type=float, default=5.0, help="確認の間隔（秒）")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            try:
                report = outbox_deliver_email(now=now())
            except Exception as error:  # the database is away: keep the worker alive, retry
                self.stderr.write(
                    f"配信を一時中断しました（{type(error).__name__}）。再試行します。"
                )
            else:
                if report.delivered or report.failed:
                    self.stdout.write(
                        f"メール: 配信 {report.delivered}、失敗（再送予定） {report.failed}"
                    )
            if options["once"] or stopping:
                return
            waited = 0.0
            while waited < options["interval"] and not stopping:
                time.sleep(0.2)
                waited += 0.2
            if stopping:
                return
            # A long-running loop must not keep a connection the database has dropped.
            close_old_connections()
