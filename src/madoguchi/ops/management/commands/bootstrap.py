"""``madoguchi bootstrap``: everything ``make run`` needs before serving, idempotently."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from madoguchi.catalog.services import template_load_all
from madoguchi.conf.env import data_dir_tighten
from madoguchi.core.tenancy import ALL, tenant_scope
from madoguchi.core.time import now
from madoguchi.identity.signatures.testca import demo_card_ensure
from madoguchi.ops.demo import demo_setup
from madoguchi.stats.services import published_figures_seed
from madoguchi.tenants.master import load_master_data
from madoguchi.tenants.selectors import last_master_load
from madoguchi.tenants.services import organisation_master_load


class Command(BaseCommand):
    help = "マイグレーション、団体マスタの読込、（--demo で）デモデータの作成を行います。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo", action="store_true", help="デモデータを作成する")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        # An installation made before files were owner-only (the database was 0644).
        tightened = data_dir_tighten(Path(settings.DATA_DIR))
        if tightened:
            self.stdout.write(
                f"データディレクトリの {tightened} 件を所有者だけが読めるようにしました（0600/0700）。"
            )
        # As the owner role when there is one (ops.management.commands.migrate); the rest runs
        # as the application's role, platform-wide (row-level security, core.tenancy).
        call_command("migrate", interactive=False, verbosity=0)
        with tenant_scope(ALL):
            self._prepare(options, started)

    def _prepare(self, options: dict[str, Any], started: float) -> None:
        data = load_master_data()
        last = last_master_load()
        if last is None or last.digest != data.digest:
            report = organisation_master_load(now=now(), data=data)
            self.stdout.write(
                f"団体マスタを読み込みました: 追加 {report.created}、更新 {report.updated}、"
                f"無効化 {report.deactivated}"
            )
        templates = template_load_all(now=now())
        if templates.created or templates.new_versions:
            self.stdout.write(
                f"国のひな形を読み込みました: 追加 {len(templates.created)}、新しい版 {len(templates.new_versions)}"
            )
        published = published_figures_seed(now=now())
        if published.created:
            self.stdout.write(f"国の公表値を登録しました: {published.created} 件")
        base = options["base_url"].rstrip("/")
        logins = demo_setup(now=now()) if options["demo"] else []
        # The demo person's test My Number card (level-3 signatures), outside production only.
        card = demo_card_ensure(now=now()) if options["demo"] else None
        elapsed = time.perf_counter() - started
        self.stdout.write(f"準備ができました（{elapsed:.1f}秒）。データ: {settings.DATA_DIR}")
        self.stdout.write("")
        if not options["demo"]:
            # No demo data and no server yet: the addresses below would lead nowhere.
            self.stdout.write(
                "サーバーは madoguchi serve（開発では make run）で起動します"
                "（start the server with madoguchi serve）。"
            )
            return
        self.stdout.write(f"  全国トップ          {base}/")
        self.stdout.write(f"  神奈川県ポータル    {base}/p/14/")
        self.stdout.write(f"  団体ページ（横浜市）{base}/o/141003/")
        self.stdout.write(f"  施設予約（横浜市）  {base}/o/141003/facilities/")
        self.stdout.write(f"  オンライン利用率    {base}/statistics/")
        self.stdout.write(f"  職員コンソール      {base}/console/")
        self.stdout.write(f"  API (OpenAPI)       {base}/api/v1/docs")
        self.stdout.write(f"  ヘルスチェック      {base}/healthz")
        if logins:
            self.stdout.write("")
            self.stdout.write("  デモ用ログイン（パスワードはこの環境専用に生成されたものです）:")
            for login in logins:
                self.stdout.write(f"    {login.role}: {login.organisation}")
                self.stdout.write(f"      メール {login.email}   パスワード {login.password}")
        if card is not None:
            self.stdout.write("")
            self.stdout.write(f"  テスト用マイナンバーカード（鎌倉　花子）: {card}")
            self.stdout.write("    署名: madoguchi card sign --in canonical.json --out sig.p7s")
        self.stdout.write("")
