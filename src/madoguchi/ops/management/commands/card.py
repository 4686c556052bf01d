"""``madoguchi card issue|sign|revoke``: test My Number cards for demos and tests.

The cards are issued by the installation's test CA (``<MADOGUCHI_DATA_DIR>/jpki-test``),
which is trusted only outside production; every subcommand refuses to run in production.
See :mod:`madoguchi.identity.signatures.testca`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.time import now
from madoguchi.identity.signatures.testca import (
    Person,
    TestCaRefused,
    card_issue,
    card_revoke,
    card_sign,
    demo_card_dir,
)

DEFAULT = Person()


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--not-before は 2025-04-01 や 2025-04-01T09:00:00+09:00 の形で指定してください（{value!r}）"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "テスト用のマイナンバーカード（署名用電子証明書と鍵）を発行・署名・失効します（本番以外）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="テスト用カードを発行する")
        issue.add_argument("--out", type=Path, help="出力先（既定: <データ>/jpki-test/cards/demo）")
        issue.add_argument("--name", default=DEFAULT.name, help="氏名（既定: 鎌倉　花子）")
        issue.add_argument("--name-substitute", default="", help="氏名の代替文字")
        issue.add_argument("--address", default=DEFAULT.address, help="住所")
        issue.add_argument("--address-substitute", default="", help="住所の代替文字")
        issue.add_argument("--birth-date", default=DEFAULT.birth_date, help="生年月日 YYYY-MM-DD")
        issue.add_argument(
            "--sex", default=DEFAULT.sex, choices=["1", "2", "3"], help="性別 1 男 2 女 3 その他"
        )
        issue.add_argument("--days", type=int, default=365 * 5, help="有効日数（既定 1825）")
        issue.add_argument("--not-before", help="有効期間の開始（既定: いま）")
        sign = sub.add_parser("sign", help="カードで署名する（切り離し CMS、SHA-256、DER）")
        sign.add_argument("--card", type=Path, help="カードのディレクトリ（既定: デモのカード）")
        sign.add_argument("--in", dest="input", type=Path, required=True, help="署名するファイル")
        sign.add_argument("--out", type=Path, required=True, help="署名ファイル（.p7s）")
        sign.add_argument(
            "--no-attributes", action="store_true", help="署名属性なし（デジタル認証アプリの形）"
        )
        revoke = sub.add_parser("revoke", help="カードをテスト用認証局の失効リストに載せる")
        revoke.add_argument("--card", type=Path, help="カードのディレクトリ（既定: デモのカード）")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except TestCaRefused as error:
            raise CommandError(str(error)) from None

    def _issue(self, options: dict[str, Any]) -> None:
        try:
            birth = date.fromisoformat(options["birth_date"]).isoformat()
        except ValueError:
            raise CommandError("--birth-date は 1985-04-01 の形で指定してください。") from None
        if options["days"] < 1 or options["days"] > 365 * 20:
            raise CommandError("--days は 1 から 7300 の間で指定してください。")
        for key in ("name", "address"):
            if not options[key].strip():
                raise CommandError(f"--{key} を指定してください。")
        out = options["out"] or demo_card_dir()
        card = card_issue(
            out=out,
            person=Person(
                name=options["name"],
                address=options["address"],
                birth_date=birth,
                sex=options["sex"],
                name_substitute=options["name_substitute"],
                address_substitute=options["address_substitute"],
            ),
            now=now(),
            days=options["days"],
            not_before=_instant(options["not_before"]) if options["not_before"] else None,
        )
        self.stdout.write(f"テスト用カードを発行しました: {card.directory}")
        self.stdout.write(f"  鍵 {card.key_path}")
        self.stdout.write(f"  証明書 {card.certificate_path}（シリアル {card.serial:x}）")
        self.stdout.write(
            f"  有効期間 {card.not_before:%Y-%m-%d %H:%M} 〜 {card.not_after:%Y-%m-%d %H:%M} (UTC)"
        )

    def _sign(self, options: dict[str, Any]) -> None:
        try:
            content = options["input"].read_bytes()
        except OSError as error:
            raise CommandError(f"{options['input']} を読めません: {error.strerror}") from None
        signature = card_sign(
            card=options["card"] or demo_card_dir(),
            content=content,
            now=now(),
            signed_attributes=not options["no_attributes"],
        )
        options["out"].write_bytes(signature)
        self.stdout.write(f"署名しました: {options['out']}（{len(signature)} バイト）")

    def _revoke(self, options: dict[str, Any]) -> None:
        serial = card_revoke(card=options["card"] or demo_card_dir(), now=now())
        self.stdout.write(f"テスト用認証局の失効リストに載せました（シリアル {serial:x}）。")
