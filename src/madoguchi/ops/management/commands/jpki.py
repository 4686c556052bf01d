"""``madoguchi jpki crl-import --organisation <lg_code> FILE``: import a J-LIS CRL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.time import now
from madoguchi.identity.signatures.services import CrlRefused, jpki_crl_import
from madoguchi.tenants.models import Organisation


class Command(BaseCommand):
    help = "公的個人認証（マイナンバーカードの電子署名）の設定: 失効リスト（CRL）の取込。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        crl = sub.add_parser("crl-import", help="J-LIS の失効リスト（CRL、DER か PEM）を取り込む")
        crl.add_argument("--organisation", required=True, help="団体コード（6桁）")
        crl.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organisation = Organisation.objects.get(lg_code=options["organisation"])
        except Organisation.DoesNotExist:
            raise CommandError(
                f"団体コード {options['organisation']} の団体がありません。"
            ) from None
        try:
            data = options["file"].read_bytes()
        except OSError as error:
            raise CommandError(f"{options['file']} を読めません: {error.strerror}") from None
        try:
            crl = jpki_crl_import(organisation=organisation, data=data, actor=None, now=now())
        except CrlRefused as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"{organisation} に失効リストを取り込みました: {crl.issuer}、CRL番号 {crl.crl_number or '—'}、"
            f"失効 {crl.revoked_count} 件、次回更新予定 {crl.next_update:%Y-%m-%d %H:%M} (UTC)"
        )
