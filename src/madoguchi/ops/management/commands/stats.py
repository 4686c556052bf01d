"""``madoguchi stats``: statistics commands for platform operators.

``madoguchi stats import FILE``: counts of procedures done in other systems (eLTAX, the
library's OPAC, the water utility …), imported by the platform operator for any organisation.
The file is checked as a whole (:func:`madoguchi.stats.imports.counts_import`): either every
row is stored, or nothing is and every problem is printed with its row and column, and the
command exits with status 1.

``madoguchi stats published set --list guideline-21 --fiscal-year 2016 --total 389170000
--online 199208000 --source "…" [--prefecture 14]`` enters or replaces a published figure
(公表値), counts in 件 (a figure published in 千件 is entered ×1000, or with ``--thousands``).
``madoguchi stats published list`` shows the figures entered.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.time import now
from madoguchi.stats.figures import rate as rate_of
from madoguchi.stats.figures import rate_text
from madoguchi.stats.imports import (
    COLUMN_HELP,
    MAX_FILE_BYTES,
    ImportRejected,
    counts_import,
    shown,
)
from madoguchi.stats.models import PublishedFigure
from madoguchi.stats.services import PublishedFigureInvalid, published_figure_set

#: Rows of an accepted file printed one by one (the rest are counted).
PRINTED_ROWS = 200


class Command(BaseCommand):
    help = (
        "オンライン利用率の統計: 他のシステムで受け付けた手続の件数を取り込みます（import）。"
        "公表値（国・都道府県が公表した件数）を登録・表示します（published set / list）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        columns = "\n".join(f"  {name}（{need}）: {text}" for name, need, text in COLUMN_HELP)
        importer = commands.add_parser(
            "import",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            help="件数のファイル（CSV: UTF-8 または Shift_JIS、または xlsx）を取り込む",
            description=(
                "団体 × 国の手続分類 × 年度（または月）ごとの件数を取り込みます。ファイル全体を"
                "確かめ、誤りが1つでもあれば何も取り込まずに全ての誤りを行番号付きで表示します。"
                "同じ団体・手続・年度・月の取り込み済みの件数は置き換えます。\n\n列（1行目の見出し）:\n"
                + columns
            ),
        )
        importer.add_argument("file", type=Path, help="CSV または xlsx のファイル")
        published = commands.add_parser("published", help="公表値（国・都道府県が公表した件数）")
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
        if options["subcommand"] == "published":
            self._published(options)
        else:
            self._import(options)

    def _published(self, options: dict[str, Any]) -> None:
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

    def _import(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(
                    f"ファイルが大きすぎます（{MAX_FILE_BYTES // (1024 * 1024)} MB まで）。"
                    "何も取り込みませんでした。"
                )
            with path.open("rb") as handle:
                content = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise CommandError(
                f"ファイルを読めません: {shown(str(path))}（{error.strerror}）"
            ) from None
        try:
            report = counts_import(
                content=content,
                file_name=path.name,
                scope_organisation=None,
                actor=None,
                now=now(),
            )
        except ImportRejected as error:
            for problem in error.problems:
                self.stderr.write(problem.line())
            if error.more:
                self.stderr.write(f"ほかに {error.more:,} 件の問題があります。")
            raise CommandError(error.message) from None
        self.stdout.write(report.summary())
        for row in report.rows[:PRINTED_ROWS]:
            rate = "—" if row.rate is None else f"{row.rate}%"
            mark = "（置き換え）" if row.replaced else ""
            self.stdout.write(
                f"  {row.row}行目: {row.organisation_name}（{row.lg_code}） {row.category_name} "
                f"{row.period} 総件数 {row.total:,} オンライン {row.online:,} 利用率 {rate}{mark}"
            )
        if len(report.rows) > PRINTED_ROWS:
            self.stdout.write(f"  ほか {len(report.rows) - PRINTED_ROWS:,} 行")
