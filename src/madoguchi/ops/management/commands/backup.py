"""``madoguchi backup``: an encrypted backup of the whole installation, its check and its
restoration (:mod:`madoguchi.ops.backup.service`).

``madoguchi backup keygen --out KEYFILE`` makes the backup key (0600; keep it apart).
``madoguchi backup create --out PATH`` writes a backup; ``madoguchi backup verify PATH`` checks
every chunk and digest of one (``--against-installation``: and compares the database and the
files with it); ``madoguchi backup restore PATH`` brings it back into an empty database and
file storage, then verifies. The key file is ``MADOGUCHI_BACKUP_KEY_FILE`` or ``--key-file``.
A refusal is one Japanese sentence (English in parentheses) and exit status 1; a verification
that finds differences exits with 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from madoguchi.core.time import now
from madoguchi.ops.backup.archive import BackupKey, key_generate, key_load
from madoguchi.ops.backup.errors import BackupError, KeyFileProblem
from madoguchi.ops.backup.service import (
    ArchiveReport,
    InstallationReport,
    backup_create,
    backup_restore,
    backup_verify,
    key_file_apart,
)

_SHOWN_IDS = 20


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


class Command(BaseCommand):
    help = "バックアップ: 鍵の作成（keygen）・作成（create）・検査（verify）・復元（restore）。"
    # Django's system checks open the database (SQLite's JSON support): on a fresh machine
    # that creates an empty madoguchi.sqlite3 before restore could refuse. Restore checks the
    # archive and the target itself; nothing here needs the checks.
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        keygen = commands.add_parser(
            "keygen",
            help="バックアップの鍵ファイルを作る（0600、既存のファイルは上書きしない）",
        )
        keygen.add_argument("--out", required=True, metavar="KEYFILE")
        create = commands.add_parser(
            "create",
            help="暗号化したバックアップを作る（データベースの一貫した写し、ファイル、目録）",
        )
        create.add_argument("--out", required=True, metavar="PATH")
        verify = commands.add_parser(
            "verify",
            help="バックアップのすべての区画と目録の SHA-256 を確かめる",
        )
        verify.add_argument("path", metavar="PATH")
        verify.add_argument(
            "--against-installation",
            action="store_true",
            help="いまのデータベースとファイルが目録と一致するかも確かめる",
        )
        restore = commands.add_parser(
            "restore",
            help="空のデータベースとファイル保存場所に復元し、そのあと確かめる",
        )
        restore.add_argument("path", metavar="PATH")
        restore.add_argument(
            "--from-other-installation",
            action="store_true",
            help="別のインストールのバックアップでも復元する（取り違えでないことを確かめてから）",
        )
        for sub in (create, verify, restore):
            sub.add_argument(
                "--key-file",
                default="",
                metavar="KEYFILE",
                help="鍵ファイル（省略時は MADOGUCHI_BACKUP_KEY_FILE）",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            status = getattr(self, f"_{options['subcommand']}")(options)
        except BackupError as error:
            # The sentence alone (no "CommandError:"), on standard error, status 1.
            self.stderr.write(str(error))
            sys.exit(1)
        if status:
            sys.exit(status)

    def _key(self, options: dict[str, Any]) -> BackupKey:
        path = options.get("key_file") or settings.BACKUP_KEY_FILE
        if not path:
            raise KeyFileProblem(
                "バックアップの鍵ファイルが指定されていません。MADOGUCHI_BACKUP_KEY_FILE を設定するか"
                " --key-file を付けてください（no backup key file: set MADOGUCHI_BACKUP_KEY_FILE）。"
            )
        if (warning := key_file_apart(Path(path))) is not None:
            self.stderr.write(warning)
        return key_load(Path(path))

    def _keygen(self, options: dict[str, Any]) -> int:
        path = Path(options["out"])
        key = key_generate(path)
        self.stdout.write(
            f"鍵ファイルを作りました: {path}（指紋 {key.fingerprint}）。"
            "バックアップとは別の場所にも控えを保管してください。"
        )
        if (warning := key_file_apart(path)) is not None:
            self.stderr.write(warning)
        return 0

    def _create(self, options: dict[str, Any]) -> int:
        key = self._key(options)
        report = backup_create(
            out=Path(options["out"]), key=key, now=now(), progress=self.stdout.write
        )
        self.stdout.write(
            f"バックアップを作りました: {report.path}\n"
            f"  インストール {report.installation_id}、申請 {report.applications} 件、"
            f"添付 {report.attachments} 件、発行文書 {report.documents} 件、"
            f"ファイル {report.files} 個\n"
            f"  {_mb(report.bytes_in)} → 暗号化して {_mb(report.bytes_out)}、"
            f"{report.seconds:.1f} 秒"
        )
        if report.missing_files:
            self.stderr.write(
                f"注意: 添付 {len(report.missing_files)} 件のファイルが保存場所にありませんでした"
                f"（attachment files missing at backup time）: "
                + ", ".join(report.missing_files[:_SHOWN_IDS])
            )
        return 0

    def _archive_lines(self, archive: ArchiveReport) -> None:
        manifest = archive.manifest
        self.stdout.write(
            f"バックアップは完全です（the backup is intact）: {archive.chunks} 区画、"
            f"{_mb(archive.bytes)}、{archive.seconds:.1f} 秒\n"
            f"  作成 {manifest.get('created_at')}、インストール {manifest.get('installation_id')}、"
            f"{manifest.get('vendor')}、窓口 {manifest.get('madoguchi_version')}\n"
            f"  申請 {len(manifest.get('applications') or {})} 件、"
            f"添付 {len(manifest.get('attachments') or {})} 件、"
            f"発行文書 {len(manifest.get('documents') or {})} 件、"
            f"ファイル {len(manifest.get('files') or {})} 個"
        )

    def _installation_lines(self, report: InstallationReport) -> int:
        self.stdout.write(
            f"インストールとの照合（against the installation）: 申請 {report.applications_checked} 件、"
            f"添付 {report.attachments_checked} 件、発行文書 {report.documents_checked} 件、"
            f"ファイル {report.files_checked} 個（{_mb(report.bytes_read)}）、"
            f"{report.seconds:.1f} 秒"
        )
        newer = {kind: n for kind, n in report.newer.items() if n}
        if newer:
            self.stdout.write(
                "  バックアップのあとに増えたもの（newer than the backup）: "
                + "、".join(f"{kind} {n}" for kind, n in newer.items())
            )
        if report.ok:
            self.stdout.write("  すべて一致しました（everything matches）。")
            return 0
        for kind, ids in report.problems.items():
            shown = ", ".join(ids[:_SHOWN_IDS]) + (" …" if len(ids) > _SHOWN_IDS else "")
            self.stderr.write(f"  {kind}: {len(ids)} 件 — {shown}")
        self.stderr.write(
            "一致しないものがあります（mismatches found）。添付を復号できない場合は、"
            "暗号化の鍵（encryption_key または MADOGUCHI_ENCRYPTION_KEYS）を元に戻してください。"
        )
        return 2

    def _verify(self, options: dict[str, Any]) -> int:
        archive, installation = backup_verify(
            Path(options["path"]),
            key=self._key(options),
            against_installation=options["against_installation"],
        )
        self._archive_lines(archive)
        return self._installation_lines(installation) if installation is not None else 0

    def _restore(self, options: dict[str, Any]) -> int:
        report = backup_restore(
            Path(options["path"]),
            key=self._key(options),
            from_other_installation=options["from_other_installation"],
            progress=self.stdout.write,
        )
        self._archive_lines(report.archive)
        self.stdout.write(
            f"復元しました（restored）: {report.target}、ファイル {report.files} 個、"
            f"{report.seconds:.1f} 秒"
        )
        status = self._installation_lines(report.verification)
        if report.migrate_needed:
            self.stdout.write(
                "このコードには、バックアップより新しいマイグレーションがあります。"
                "madoguchi migrate を実行してからサービスを始めてください"
                "（run madoguchi migrate before starting the services）。"
            )
        return status
