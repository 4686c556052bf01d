"""``madoguchi stats``: statistics commands for platform operators.

``madoguchi stats published set --list guideline-21 --fiscal-year 2016 --total 389170000
--online 199208000 --source "…" [--prefecture 14]`` enters or replaces a published figure
(公表値), counts in 件 (a figure published in 千件 is entered ×1000, or with ``--thousands``).
``madoguchi stats published list`` shows the figures entered.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.time import now
from madoguchi.stats.figures import rate as rate_of
from madoguchi.stats.figures import rate_text
from madoguchi.stats.models import PublishedFigure
from madoguchi.stats.services import PublishedFigureInvalid, published_figure_set


class Command(BaseCommand):
    help = "統計（オンライン利用率）の運用コマンド。published set で公表値を登録・置換します。"

    def add_arguments(self, parser: CommandParser) -> None:
        topics = parser.add_subparsers(dest="topic", required=True)
        published = topics.add_parser("published", help="公表値（国・都道府県が公表した件数）")
        actions = published.add_subparsers(dest="action", required=True)
        setter = actions.add_parser("set", help="公表値を登録・置換する")
        setter.add_argument("--list", required=True, help="手続一覧のコード（例 guideline-21）")
        setter.add_argument("--fiscal-year", required=True, type=int, help="年度（西暦）")
        setter.add_argument("--total", required=True, type=int, help="年間総手続件数（件）")
        setter.add_argument("--online", required=True, type=int, help="オンライン利用件数（件）")
        setter.add_argument("--source", required=True, help="出典（公表資料の名称）")
        setter.add_argument(
            "--prefecture", default="", help="都道府県コード（01〜47）。省略すると全国"
        )
        setter.add_argument(
            "--thousands", action="store_true", help="件数を千件単位で指定する（×1000で登録）"
        )
        actions.add_parser("list", help="登録された公表値を表示する")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for row in PublishedFigure.objects.order_by(
                "category_list", "prefecture_code", "fiscal_year"
            ):
                self.stdout.write(
                    f"{row.category_list}\t{row.prefecture_code or '全国'}\t{row.fiscal_year}年度\t"
                    f"{row.total}\t{row.online}\t"
                    f"{rate_text(rate_of(total=row.total, online=row.online))}%\t{row.source}"
                )
            return
        factor = 1000 if options["thousands"] else 1
        try:
            figure = published_figure_set(
                prefecture_code=options["prefecture"],
                category_list=options["list"],
                fiscal_year=options["fiscal_year"],
                total=options["total"] * factor,
                online=options["online"] * factor,
                source=options["source"],
                actor=None,
                now=now(),
            )
        except PublishedFigureInvalid as error:
            raise CommandError(str(error)) from None
        place = f"都道府県 {figure.prefecture_code}" if figure.prefecture_code else "全国"
        self.stdout.write(
            f"公表値を登録しました: {place} {figure.category_list} {figure.fiscal_year}年度 "
            f"総件数 {figure.total:,} オンライン {figure.online:,} "
            f"（{rate_text(rate_of(total=figure.total, online=figure.online))}%）"
        )
