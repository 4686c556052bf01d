"""``madoguchi load_templates``: load the national templates shipped with the platform."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from madoguchi.catalog.services import CatalogError, template_load_all
from madoguchi.core.time import now
from madoguchi.forms.schema import InvalidDefinition


class Command(BaseCommand):
    help = "国のひな形（src/madoguchi/catalog/national/*.yaml）を読み込みます（何度実行しても同じ結果になります）。"

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = template_load_all(now=now())
        except InvalidDefinition as error:
            for problem in error.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                "ひな形ファイルに誤りがあるため、何も読み込みませんでした。"
            ) from None
        except CatalogError as error:
            for message in error.problems:
                self.stderr.write(message)
            raise CommandError("ひな形を読み込めませんでした。") from None
        for line in report.created:
            self.stdout.write(f"追加 {line}")
        for line in report.new_versions:
            self.stdout.write(f"新しい版 {line}")
        self.stdout.write(
            f"ひな形: 追加 {len(report.created)}、新しい版 {len(report.new_versions)}、変更なし {report.unchanged}"
            f"（ライフイベント {report.life_events}）"
        )
