"""``madoguchi stats import FILE``: counts of procedures done in other systems (eLTAX, the
library's OPAC, the water utility …), imported by the platform operator for any organisation.

The file is checked as a whole (:func:`madoguchi.stats.imports.counts_import`): either every
row is stored, or nothing is and every problem is printed with its row and column, and the
command exits with status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.time import now
from madoguchi.stats.imports import (
    COLUMN_HELP,
    MAX_FILE_BYTES,
    ImportRejected,
    counts_import,
    shown,
)

#: Rows of an accepted file printed one by one (the rest are counted).
PRINTED_ROWS = 200


class Command(BaseCommand):
    help = "オンライン利用率の統計: 他のシステムで受け付けた手続の件数を取り込みます（import）。"

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

    def handle(self, *args: Any, **options: Any) -> None:
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
