"""``madoguchi documents``: the register of issued documents, for platform operators.

``madoguchi documents audit [--organisation LG_CODE]`` recomputes every register entry's hash
and its link to the entry before, checks each entry against its document (verification code,
SHA-256 of the PDF, issue instant, kind and number), that each document's status agrees with the
audit trail, that every document has its entry, that the register's
length and head are the last entry's and that every published daily head still equals the
chain (:func:`madoguchi.documents.audit.register_audit`). It prints what it checked and every
problem in Japanese, and exits with status 1 when there is any.

``madoguchi documents heads`` publishes today's heads now (the outbox worker does it on its
own a few minutes after midnight, Japan time); a day's head is published once, and the command
lists every head already published today (organisation, length, time).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.time import now, to_tokyo
from madoguchi.documents.audit import register_audit
from madoguchi.documents.publication import register_heads_of_day, register_heads_publish
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get


class Command(BaseCommand):
    help = "発行文書の台帳: 改ざんの検査（audit）と日次の先頭の公開（heads）。"

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        audit = commands.add_parser(
            "audit",
            help="台帳の記載のハッシュ・つながり・文書との一致・公開した先頭を検査する",
            description=(
                "台帳のすべての記載のハッシュを再計算し、前の記載とのつながり、発行文書との一致"
                "（種類・文書番号・照合番号・PDF の SHA-256・発行日時）、記載のない文書、"
                "文書の状態と監査記録、台帳の件数と先頭、"
                "公開した日次の先頭を確かめます。問題がなければ終了コード 0、あれば 1 です。"
            ),
        )
        audit.add_argument(
            "--organisation",
            default="",
            metavar="LG_CODE",
            help="この団体（6桁または5桁の団体コード）だけを検査する。省略するとすべての団体",
        )
        commands.add_parser(
            "heads",
            help="今日の台帳の先頭（件数とハッシュ）をいま公開する",
            description=(
                "記載のある団体ごとに、今日（日本時間）の先頭をまだ公開していなければ公開します。"
                "通常は配信ワーカー（outbox_worker）が自動で行います。"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "heads":
            at = now()
            count = register_heads_publish(now=at)
            heads = register_heads_of_day(now=at)
            day = to_tokyo(at).date()
            self.stdout.write(f"台帳の先頭を公開しました: {count} 団体")
            if not heads:
                self.stdout.write(
                    f"今日（{day:%Y-%m-%d}）公開した先頭はありません（記載のある台帳がありません）。"
                )
                return
            self.stdout.write(f"今日（{day:%Y-%m-%d}）公開済みの先頭:")
            for head in heads:
                org = head.organisation
                when = to_tokyo(head.published_at)
                self.stdout.write(
                    f"  {org.name}（{org.lg_code}）: 記載 {head.length} 件、"
                    f"{when:%H:%M} 公開（日本時間）、ハッシュ {head.head[:16]}…"
                )
            return
        organisation = None
        code = str(options["organisation"]).strip()
        if code:
            try:
                organisation = organisation_get(code=code)
            except InvalidLgCode as error:
                raise CommandError(str(error)) from None
            except Organisation.DoesNotExist:
                raise CommandError(f"団体コード {code} の団体は見つかりません。") from None
        report = register_audit(organisation=organisation)
        self.stdout.write("発行文書の台帳を検査しました。")
        for line in report.checked:
            self.stdout.write(f"検査  {line}")
        self.stdout.write(
            f"団体 {report.organisations}、記載 {report.entries}、発行文書 {report.documents}、"
            f"公開した先頭 {report.heads}"
        )
        if report.ok:
            self.stdout.write("結果: 問題はありません。")
            return
        for problem in report.problems:
            self.stdout.write(f"問題  {problem}")
        self.stdout.write(
            f"結果: 問題が {len(report.problems)} 件あります。"
            "台帳かデータベースが書き換えられた可能性があります。バックアップと照合してください。"
        )
        sys.exit(1)
