"""``madoguchi import_population FILE``: set populations from a CSV (団体コード, 人口)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.core.time import now
from madoguchi.tenants.services import (
    MAX_POPULATION_FILE_BYTES,
    PopulationImportError,
    population_import,
)


class Command(BaseCommand):
    help = (
        "人口CSV（1列目: 団体コード、2列目: 人口。UTF-8 または Shift_JIS）を取り込みます。"
        "誤りのある行が1つでもあれば、何も取り込まずに全ての誤りを行番号付きで表示します。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--as-of", help="人口の基準日（例: 2026-01-01）")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        as_of: date | None = None
        if options["as_of"]:
            try:
                as_of = date.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError("--as-of は 2026-01-01 の形で指定してください。") from None
        try:
            if path.stat().st_size > MAX_POPULATION_FILE_BYTES:
                raise CommandError("ファイルが大きすぎます（上限 5MB）。")
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"ファイルを読めません: {path}（{error.strerror}）") from None
        try:
            report = population_import(data=data, file_name=path.name, as_of=as_of, now=now())
        except PopulationImportError as error:
            for line in error.errors:
                self.stderr.write(line)
            raise CommandError(
                f"{len(error.errors)}件の誤りがあるため、何も取り込みませんでした。"
            ) from None
        self.stdout.write(
            f"{report.rows}団体の人口を取り込みました（変更 {report.changed}件、文字コード {report.encoding}）。"
            f"人口が未登録の有効な団体: {report.without_population}"
        )
