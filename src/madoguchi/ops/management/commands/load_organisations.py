"""``madoguchi load_organisations``: (re)load the organisation master from ``japancode``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.time import now
from madoguchi.tenants.master import MasterDataError
from madoguchi.tenants.services import organisation_master_load


class Command(BaseCommand):
    help = "団体マスタを japancode パッケージから読み込みます（何度実行しても同じ結果になります）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet-unchanged", action="store_true", help="変更がないときは何も表示しない"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = organisation_master_load(now=now())
        except MasterDataError as error:
            raise CommandError(f"団体マスタを読み込めませんでした: {error}") from None
        if not report.changed and options["quiet_unchanged"]:
            return
        for line in report.changes:
            self.stdout.write(line)
        self.stdout.write(
            f"団体マスタ（{report.source}）: 追加 {report.created}、更新 {report.updated}、"
            f"無効化 {report.deactivated}、再有効化 {report.reactivated}、変更なし {report.unchanged}"
        )
