"""``madoguchi staff_digest``: send the daily digest of work waiting for staff now.

``madoguchi outbox_worker`` (started by ``madoguchi serve``) already sends the digests once a
day after 8:00 Japan time and the immediate staff mails every loop; this command is for an
installation that wants the digest at another hour from cron (or runs no worker loop)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from madoguchi.applications.staff_notices import staff_digest_send
from madoguchi.core.time import now


class Command(BaseCommand):
    help = "職員へのお知らせ（1日1回のまとめ）を今すぐ送ります。"

    def handle(self, *args: Any, **options: Any) -> None:
        report = staff_digest_send(now=now())
        self.stdout.write(
            f"職員へのお知らせ: メール {report.mails} 通（申請 {report.notices} 件分）を送信待ちにしました。"
        )
