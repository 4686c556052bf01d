"""``madoguchi outbox_worker``: deliver queued mail and webhooks until stopped (or once with
``--once``); group staff notices into mails (``applications.staff_notices``); every hour warn of expiring drafts and remove unsent uploads; and purge
applications past their retention period once a day; run the reservations' scheduled work
(``reservations.tasks.reservations_tick``: expiries, draws, waitlist offers, reminders); add
archival timestamps to issued documents that are due (``documents.archive``, PAdES B-LTA);
publish each organisation's daily register head (``documents.publication``), looked at every
few minutes."""

from __future__ import annotations

import os
import signal
import socket
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from madoguchi.applications.attachments import attachments_purge_expired
from madoguchi.applications.retention import applications_purge_expired
from madoguchi.applications.services import drafts_expire
from madoguchi.applications.staff_notices import staff_notices_deliver
from madoguchi.core.logs import request_id_bind, request_id_new
from madoguchi.core.metrics import WORKER_HEARTBEAT
from madoguchi.core.time import now
from madoguchi.documents.archive import documents_archive_tick
from madoguchi.documents.publication import register_heads_publish
from madoguchi.integrations.webhooks import webhooks_deliver
from madoguchi.notifications.services import outbox_deliver_email
from madoguchi.ops.models import WorkerHeartbeat
from madoguchi.reservations.tasks import reservations_tick

#: The retention purge runs at start and then once a day: django_tasks_db has no schedule of
#: its own and needs a worker `make run` does not start, while this loop runs everywhere.
PURGE_INTERVAL_SECONDS = 24 * 3600
PURGE_BATCH = 1000
#: Draft expiry notices and unclaimed uploads are looked at every hour.
HOUSEKEEPING_INTERVAL_SECONDS = 3600
#: The register's daily head is published once per Japan date: looked at every 5 minutes, so
#: it is out a few minutes after midnight.
HEADS_INTERVAL_SECONDS = 300
#: Mails and webhooks taken per pass; a full pass means more are due and the next pass starts
#: at once instead of after ``--interval`` (a backlog drains at the transports' speed).
MAIL_BATCH = 100
WEBHOOK_BATCH = 50


def heartbeat() -> None:
    """Record that this worker completed a loop (``/readyz`` and ``/metrics`` read it): one row
    per host, so that several hosts' workers each keep their own."""
    host = socket.gethostname()[:200]
    WorkerHeartbeat.objects.update_or_create(
        name=f"outbox@{host}"[:64],
        defaults={"host": host, "pid": os.getpid(), "beat_at": now()},
    )
    WORKER_HEARTBEAT.set(time.time())


class Command(BaseCommand):
    help = (
        "送信待ちのメールと Webhook を配信します。失敗したものは間隔をあけて再送します。"
        "保存期間を過ぎた申請の削除も1日1回行います。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="いま送るべきものを配信して終了する"
        )
        parser.add_argument("--interval", type=float, default=5.0, help="確認の間隔（秒）")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        next_purge = 0.0
        next_housekeeping = 0.0
        next_heads = 0.0
        while True:
            # One id per loop: every line this loop logs carries it (madoguchi.core.logs).
            request_id_bind(request_id_new("worker"))
            full = False
            try:
                report = outbox_deliver_email(now=now(), limit=MAIL_BATCH)
            except Exception as error:  # the database is away: keep the worker alive, retry
                self.stderr.write(
                    f"配信を一時中断しました（{type(error).__name__}）。再試行します。"
                )
            else:
                full = full or report.delivered + report.failed >= MAIL_BATCH
                if report.delivered or report.failed:
                    self.stdout.write(
                        f"メール: 配信 {report.delivered}、失敗（再送予定） {report.failed}"
                    )
            try:
                # Staff notices (new arrivals, answered corrections, sign-off requests): grouped
                # mails at most every 10 minutes per member, digests once a day after 8:00.
                staff_report = staff_notices_deliver(now=now())
            except Exception as error:  # as for mail: keep the worker alive, retry
                self.stderr.write(f"職員へのお知らせを一時中断しました（{type(error).__name__}）。")
            else:
                if staff_report.mails:
                    self.stdout.write(f"職員へのお知らせ: {staff_report.mails} 通")
            try:
                hooks = webhooks_deliver(now=now(), limit=WEBHOOK_BATCH)
            except Exception as error:  # as for mail: keep the worker alive, retry
                self.stderr.write(f"Webhook の配信を一時中断しました（{type(error).__name__}）。")
            else:
                full = full or hooks.delivered + hooks.failed + hooks.gave_up >= WEBHOOK_BATCH
                if hooks.delivered or hooks.failed or hooks.gave_up:
                    self.stdout.write(
                        f"Webhook: 配信 {hooks.delivered}、失敗（再送予定） {hooks.failed}、"
                        f"再送終了 {hooks.gave_up}"
                    )
            try:
                # Holds and offers that expired, draws that are due, waitlist offers, reminders.
                tick = reservations_tick(now=now())
            except Exception as error:  # as for mail: keep the worker alive, retry
                self.stderr.write(
                    f"施設予約の定期処理を一時中断しました（{type(error).__name__}）。"
                )
            else:
                for line in tick.notes:
                    self.stdout.write(line)
            try:
                # Issued documents whose timestamp needs an archival timestamp over it (B-LTA).
                archived = documents_archive_tick(now=now())
            except Exception as error:  # as for mail: keep the worker alive, retry
                self.stderr.write(
                    f"発行文書の保存用タイムスタンプを一時中断しました（{type(error).__name__}）。"
                )
            else:
                if archived:
                    self.stdout.write(f"発行文書に保存用タイムスタンプ: {archived} 件")
            if time.monotonic() >= next_heads:
                next_heads = time.monotonic() + HEADS_INTERVAL_SECONDS
                try:
                    heads = register_heads_publish(now=now())
                except Exception as error:  # tried again in five minutes
                    self.stderr.write(
                        f"台帳の先頭の公開を一時中断しました（{type(error).__name__}）。"
                    )
                else:
                    if heads:
                        self.stdout.write(f"台帳の先頭を公開: {heads} 団体")
            if not options["once"] and time.monotonic() >= next_purge:
                try:
                    purge = applications_purge_expired(now=now(), limit=PURGE_BATCH)
                except Exception as error:  # tried again in ten minutes
                    self.stderr.write(f"保存期間の削除を中断しました（{type(error).__name__}）。")
                    next_purge = time.monotonic() + 600
                else:
                    # A full batch means more is due: the next loop continues the backlog.
                    more = purge.purged >= PURGE_BATCH
                    full = full or more
                    next_purge = time.monotonic() + (0 if more else PURGE_INTERVAL_SECONDS)
                    if purge.purged:
                        self.stdout.write(f"保存期間を過ぎた申請を削除: {purge.purged} 件")
            if time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL_SECONDS
                try:
                    drafts = drafts_expire(now=now())
                    files = attachments_purge_expired(now=now())
                except Exception as error:  # tried again at the next hour
                    self.stderr.write(f"下書きの整理を中断しました（{type(error).__name__}）。")
                else:
                    if drafts.notified or drafts.deleted or files:
                        self.stdout.write(
                            f"下書き: 期限の通知 {drafts.notified}、削除 {drafts.deleted}、"
                            f"未送信の添付ファイル削除 {files}"
                        )
            try:
                heartbeat()
            except Exception as error:  # the database is away: /readyz will say so
                self.stderr.write(f"稼働記録を書けませんでした（{type(error).__name__}）。")
            if stopping or (options["once"] and not full):
                return
            if full:  # more is due: the next pass at once, on the connection that just worked
                continue
            waited = 0.0
            while waited < options["interval"] and not stopping:
                time.sleep(0.2)
                waited += 0.2
            if stopping:
                return
            # A long-running loop must not keep a connection the database has dropped.
            close_old_connections()
