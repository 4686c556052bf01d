"""``madoguchi purge_expired``: delete closed applications past their retention period."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from madoguchi.applications.retention import applications_purge_expired
from madoguchi.core.time import now


class Command(BaseCommand):
    help = (
        "保存期間（手続ごとの保存年限）を過ぎた、処理の終わった申請（承認・却下・取下げ）を"
        "削除し、削除したことを監査記録に残します（個人の情報は残しません）。"
        "送信ワーカー（outbox_worker）も1日1回これを実行します。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", type=int, default=1000, help="1回の処理で削除する件数（既定 1000）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch = max(1, int(options["batch"]))
        purged = files = 0
        while True:
            report = applications_purge_expired(now=now(), limit=batch)
            purged += report.purged
            files += report.files_deleted
            if report.purged < batch:
                break
        self.stdout.write(
            f"保存期間を過ぎた申請を {purged} 件削除しました（添付ファイル {files} 件）。"
        )
        if report.kept_open:
            self.stdout.write(
                f"保存期間を過ぎていますが処理中の申請が {report.kept_open} 件あります"
                "（処理を終えると次回削除されます）。"
            )
        if report.blocked:
            self.stderr.write(
                f"ほかの記録から参照されていて削除できなかった申請: {report.blocked} 件"
            )
