"""``madoguchi lottery verify <id> [--url BASE_URL]``: re-run a published lottery.

Reads only what is published — from ``BASE_URL/api/v1/lotteries/<id>/`` over HTTP when
``--url`` is given, else the published fields of the local database — and checks that the
seed matches the commitment published before the window closed, that the entrant list
matches its digest, and that re-running the draw gives the published winners (and the same
for a second draw, whose own seed is checked against the second commitment published with
the first draw's results). Prints a report in Japanese; exits 0 only when everything matches.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from madoguchi.reservations.lottery import published
from madoguchi.reservations.lottery_verify import lottery_verify
from madoguchi.reservations.models import Lottery

#: The published data of a lottery with 100,000 entries is a few MB.
MAX_BYTES = 64 * 1024 * 1024


class Command(BaseCommand):
    help = "抽選: 公開されたデータから抽選を再実行して確かめます（verify）。"

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        verify = commands.add_parser(
            "verify",
            help="公開データ（シード・応募者の一覧・当選）から抽選を再実行して照合する",
            description=(
                "シードが事前公開のコミットメントと一致するか、応募者の一覧がダイジェストと"
                "一致するか、抽選を再実行して公開された当選と一致するかを確かめます。"
                "すべて一致すれば終了コード 0、そうでなければ 1 です。"
            ),
        )
        verify.add_argument("lottery_id", type=int, help="抽選の番号（id）")
        verify.add_argument(
            "--url",
            default="",
            help="公開しているサイトの URL（例: https://madoguchi.example.jp）。"
            "省略するとこのサーバーのデータベースの公開項目を読みます",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        lottery_id: int = options["lottery_id"]
        url: str = options["url"].rstrip("/")
        try:
            data = self._fetch(url, lottery_id) if url else self._local(lottery_id)
        except LookupError as error:
            self.stderr.write(str(error))
            sys.exit(1)
        self.stdout.write(f"抽選 {lottery_id}「{data.get('name', '')}」を検証します。")
        self.stdout.write(f"抽選方式: {data.get('algorithm')}")
        self.stdout.write(f"コミットメント: {data.get('commitment')}")
        if data.get("second_commitment"):
            self.stdout.write(f"二次抽選のコミットメント: {data.get('second_commitment')}")
        if not data.get("seed") and not data.get("drawn_at"):
            # not a mismatch: there is nothing to check yet
            self.stdout.write("まだ抽選していません（シードは抽選のときに公開します）。")
            sys.exit(1)
        checks = lottery_verify(data)
        for check in checks:
            self.stdout.write(("一致  " if check.ok else "不一致 ") + check.message)
        if checks and all(check.ok for check in checks):
            self.stdout.write("結果: 公開データのとおりに抽選が行われたことを確かめました。")
            return
        self.stdout.write("結果: 確かめられませんでした。上の「不一致」の項目をご覧ください。")
        sys.exit(1)

    def _local(self, lottery_id: int) -> dict[str, Any]:
        lottery = Lottery.objects.select_related("organisation").filter(pk=lottery_id).first()
        if lottery is None:
            raise LookupError(f"抽選 {lottery_id} は見つかりません。")
        return published(lottery)

    def _fetch(self, base: str, lottery_id: int) -> dict[str, Any]:
        if not base.startswith(("http://", "https://")):
            raise LookupError("--url は http:// または https:// で始めてください。")
        address = f"{base}/api/v1/lotteries/{lottery_id}/"
        request = urllib.request.Request(address, headers={"Accept": "application/json"})  # noqa: S310 (http(s) checked above)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                raw = response.read(MAX_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise LookupError(f"{address} を読めません（HTTP {error.code}）。") from None
        except (urllib.error.URLError, OSError) as error:
            raise LookupError(f"{address} に接続できません: {error}") from None
        if len(raw) > MAX_BYTES:
            raise LookupError("公開データが大きすぎます。")
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise LookupError(f"{address} の内容を JSON として読めません。") from None
        if not isinstance(data, dict):
            raise LookupError(f"{address} の内容が抽選の公開データではありません。")
        return data
