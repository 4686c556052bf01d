"""``madoguchi backup``: create, verify and restore an encrypted backup of the installation.

A backup is one file (:mod:`.archive`) holding a tar stream of

- ``database.pgdump`` (PostgreSQL, ``pg_dump -Fc``) or ``database.sqlite3`` (SQLite's online
  backup), one consistent snapshot (:mod:`.database`);
- ``files/<name>``: every file in ``storages["default"]`` (attachments, encrypted as stored);
- ``manifest.json`` (last): installation id, time, database vendor, Madoguchi's version, the
  latest migration of each app, the row count of each table, the SHA-256 and size of the
  database copy and of every file, each application's answers digest (as stored, and of the
  stored answers), each attachment's SHA-256 and each issued document's PDF digest — ids and
  digests only, never personal data.

Not in a backup, by design — keep them apart, each in its own safe place: the backup key, the
secret key (``secret_key`` / ``MADOGUCHI_SECRET_KEY``), the encryption keys of My Numbers and
attachments (``encryption_key`` / ``MADOGUCHI_ENCRYPTION_KEYS``), seal keys and the test CAs
of the data directory, and the ``MADOGUCHI_*`` settings. A stolen backup with its key still
reveals no My Number and no attachment.

Restore checks the whole archive (every chunk, every digest against the manifest) in a
private temporary folder before it touches the database, restores into an empty database
and an empty file storage only, then verifies the installation against the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from django.conf import settings
from django.db.migrations.loader import MigrationLoader

import madoguchi
from madoguchi.core.crypto import DecryptionFailed, decrypt_bytes
from madoguchi.core.installation import installation_get
from madoguchi.ops.backup import files
from madoguchi.ops.backup.archive import (
    BackupKey,
    DecryptingReader,
    EncryptingWriter,
    header_read,
)
from madoguchi.ops.backup.database import (
    SQLITE,
    Contents,
    DatabaseTarget,
    contents_read,
    installation_id_set,
    restore,
    snapshot,
    target_check_empty,
    target_installation_id,
)
from madoguchi.ops.backup.errors import (
    BackupError,
    Corrupted,
    NewerSchema,
    NotEmpty,
    OtherInstallation,
    OtherVendor,
)

MANIFEST_FORMAT: Final = "madoguchi-backup-manifest/1"
MANIFEST_MEMBER: Final = "manifest.json"
FILES_PREFIX: Final = "files/"
DATABASE_MEMBERS: Final = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class CreateReport:
    """What :func:`backup_create` wrote."""

    path: Path
    installation_id: str
    applications: int
    attachments: int
    documents: int
    files: int
    bytes_in: int
    bytes_out: int
    seconds: float
    missing_files: list[str]


@dataclass
class ArchiveReport:
    """What a check of an archive found (it raised if anything was wrong)."""

    header: dict[str, Any]
    manifest: dict[str, Any]
    chunks: int
    bytes: int
    seconds: float


@dataclass
class InstallationReport:
    """How an installation compares with a backup's manifest (ids only, never data)."""

    applications_checked: int = 0
    attachments_checked: int = 0
    documents_checked: int = 0
    files_checked: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    #: Problems by kind → ids (applications, attachments, documents) or storage names.
    problems: dict[str, list[str]] = field(default_factory=dict)
    #: Rows made after the backup (not a problem when verifying a live installation).
    newer: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, ident: str) -> None:
        self.problems.setdefault(kind, []).append(ident)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


@dataclass
class RestoreReport:
    """What :func:`backup_restore` did, and the verification that followed."""

    archive: ArchiveReport
    target: str
    files: int
    seconds: float
    verification: InstallationReport
    migrate_needed: bool


# --- Create ---------------------------------------------------------------------------------


def scratch_root() -> Path:
    """``<DATA_DIR>/run/backup-tmp``: where a backup or restore unpacks (decrypted) data while
    it works. Under the data directory, not the system's temp folder: readable only by the
    platform's user (0700), on the disk sized for the data, and cleaned by the next command."""
    return Path(settings.DATA_DIR) / "run" / "backup-tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scratch_clean() -> list[Path]:
    """Remove what a backup or restore killed mid-way (SIGKILL, power loss) left in
    :func:`scratch_root`: every folder whose process is gone. Returns the folders removed."""
    removed: list[Path] = []
    root = scratch_root()
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        pid_text = folder.name.partition("-")[0]
        if pid_text.isdigit() and _pid_alive(int(pid_text)):
            continue  # this or another backup command at work
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)
        removed.append(folder)
    return removed


@contextmanager
def _private_folder() -> Iterator[Path]:
    root = scratch_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    scratch_clean()
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
    os.chmod(folder, 0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tar_add(tar: tarfile.TarFile, name: str, handle: IO[bytes], size: int) -> tuple[str, int]:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    reader = files.HashingReader(handle)
    tar.addfile(info, reader)
    return reader.sha256.hexdigest(), reader.bytes


def backup_create(
    *,
    out: Path,
    key: BackupKey,
    now: datetime,
    target: DatabaseTarget | None = None,
    progress: Progress = _quiet,
) -> CreateReport:
    """Write an encrypted backup of the installation to ``out`` (module docstring).

    Guarantees: the database copy is one snapshot and the manifest's digests come from that
    same snapshot; ``out`` appears complete or not at all (written beside it and renamed); it
    is never overwritten. Raises :class:`~.errors.BackupError` subclasses (an existing
    ``out``, missing ``pg_dump``, a failed dump).
    """
    started = time.monotonic()
    target = target or DatabaseTarget.configured()
    out = out.resolve()
    if out.exists():
        raise BackupError(
            f"{out} はすでにあります。上書きはしません（the output file already exists）。"
        )
    if not out.parent.is_dir():
        raise BackupError(
            f"保存先のフォルダ {out.parent} がありません（the output folder does not exist）。"
        )
    installation = installation_get(now=now).installation_id.hex
    member = DATABASE_MEMBERS[target.vendor]
    header = {
        "installation_id": installation,
        "created_at": now.isoformat(),
        "vendor": target.vendor,
        "madoguchi_version": madoguchi.__version__,
    }
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.partial")
    missing: list[str] = []
    with _private_folder() as folder:
        dump = folder / member
        progress("データベースを写しています（copying the database）…")
        with snapshot(target, dump) as contents:
            pass
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as sink:
                writer = EncryptingWriter(sink, key=key, header=header)
                stored: dict[str, dict[str, Any]] = {}
                with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                    with open(dump, "rb") as handle:
                        db_sha, db_bytes = _tar_add(tar, member, handle, dump.stat().st_size)
                    dump.unlink()
                    progress("ファイルを写しています（copying the stored files）…")
                    store = files.storage()
                    for name in files.stored_names(store):
                        size = store.size(name)
                        with store.open(name, "rb") as handle:
                            sha, length = _tar_add(tar, FILES_PREFIX + name, handle, size)
                        stored[name] = {"sha256": sha, "bytes": length}
                    present = {files.attachment_id_of(name) for name in stored}
                    missing = sorted(set(contents.attachments) - present)
                    manifest = _manifest(
                        header, contents, member, db_sha, db_bytes, stored, missing
                    )
                    data = json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()
                    info = tarfile.TarInfo(MANIFEST_MEMBER)
                    info.size = len(data)
                    info.mode = 0o600
                    info.mtime = int(time.time())
                    tar.addfile(info, io.BytesIO(data))
                writer.close()
                sink.flush()
                os.fsync(sink.fileno())
                bytes_in = writer.bytes_in
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    directory = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return CreateReport(
        path=out,
        installation_id=installation,
        applications=len(contents.applications),
        attachments=len(contents.attachments),
        documents=len(contents.documents),
        files=len(stored),
        bytes_in=bytes_in,
        bytes_out=out.stat().st_size,
        seconds=time.monotonic() - started,
        missing_files=missing,
    )


def _manifest(
    header: dict[str, Any],
    contents: Contents,
    member: str,
    db_sha: str,
    db_bytes: int,
    stored: dict[str, dict[str, Any]],
    missing: list[str],
) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        **header,
        "migrations": contents.migrations,
        "counts": contents.counts,
        "database": {"member": member, "sha256": db_sha, "bytes": db_bytes},
        "files": stored,
        "applications": contents.applications,
        "attachments": contents.attachments,
        "documents": contents.documents,
        "missing_files": missing,
    }


# --- Reading an archive ---------------------------------------------------------------------


def _member_refused() -> Corrupted:
    return Corrupted("バックアップの中身が想定と違います（the backup holds an unexpected entry）。")


def archive_read(
    path: Path,
    *,
    key: BackupKey,
    into: Path | None = None,
    before: Callable[[dict[str, Any]], None] | None = None,
) -> ArchiveReport:
    """Check every chunk of the archive at ``path`` and every member against its manifest;
    with ``into``, also write the members there (``database.*``, ``files/...``).

    ``before`` sees the header (authenticated by the first chunk) before the rest is read,
    so that a restore refuses another installation's backup at once. Raises
    :class:`~.errors.NotABackup`, :class:`~.errors.Truncated`, :class:`~.errors.WrongKey`,
    :class:`~.errors.Corrupted`.
    """
    started = time.monotonic()
    if into is not None:
        into.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        source = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise BackupError(
            f"バックアップ {path} を開けません（cannot open the backup: {error.strerror}）。"
        ) from None
    with source:
        header, digest = header_read(source)
        reader = DecryptingReader(source, key=key, header=header, digest=digest)
        seen: dict[str, tuple[str, int]] = {}
        manifest: dict[str, Any] | None = None
        first = True
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    if first and before is not None:
                        before(header)  # the first chunk has authenticated the header
                    first = False
                    name = member.name
                    if not member.isfile() or name in seen or manifest is not None:
                        raise _member_refused()
                    handle = tar.extractfile(member)
                    if handle is None:
                        raise _member_refused()
                    if name == MANIFEST_MEMBER:
                        manifest = _manifest_parse(handle.read())
                        continue
                    destination = _destination(into, name, header)
                    seen[name] = _copy(handle, destination)
        except tarfile.TarError:
            reader.drain()  # a truncated or damaged chunk is the cause to name, if there is one
            raise Corrupted(
                "バックアップの中身が壊れています（the backup's contents are damaged）。"
            ) from None
        reader.drain()
    if manifest is None:
        raise Corrupted(
            "バックアップに目録（manifest）がありません（the backup has no manifest）。"
        )
    _check_members(header, manifest, seen)
    return ArchiveReport(
        header=header,
        manifest=manifest,
        chunks=reader.chunks,
        bytes=path.stat().st_size,
        seconds=time.monotonic() - started,
    )


def _manifest_parse(data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise Corrupted("バックアップの目録が読めません（the backup's manifest is unreadable）。")
    return manifest


def _destination(into: Path | None, name: str, header: dict[str, Any]) -> Path | None:
    if name == DATABASE_MEMBERS.get(str(header.get("vendor"))):
        return into / name if into is not None else None
    if name.startswith(FILES_PREFIX) and files.safe_name(name[len(FILES_PREFIX) :]):
        if into is None:
            return None
        destination = into / name
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return destination
    raise _member_refused()


def _copy(handle: IO[bytes], destination: Path | None) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    sink = None
    if destination is not None:
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        sink = os.fdopen(fd, "wb")
    try:
        while chunk := handle.read(files.READ_BYTES):
            digest.update(chunk)
            size += len(chunk)
            if sink is not None:
                sink.write(chunk)
    finally:
        if sink is not None:
            sink.close()
    return digest.hexdigest(), size


def _check_members(
    header: dict[str, Any], manifest: dict[str, Any], seen: dict[str, tuple[str, int]]
) -> None:
    for name in ("installation_id", "vendor"):
        if manifest.get(name) != header.get(name):
            raise Corrupted(
                "バックアップの見出しと目録が食い違っています"
                "（the backup's header and manifest disagree）。"
            )
    expected: dict[str, tuple[str, Any]] = {}
    database = manifest.get("database") or {}
    expected[str(database.get("member"))] = (str(database.get("sha256")), database.get("bytes"))
    for name, item in (manifest.get("files") or {}).items():
        expected[FILES_PREFIX + name] = (str(item.get("sha256")), item.get("bytes"))
    if set(expected) != set(seen):
        raise Corrupted(
            "バックアップの中身が目録と一致しません（the backup's contents and manifest differ）。"
        )
    for name, (sha, size) in expected.items():
        if seen[name] != (sha, size):
            raise Corrupted(
                f"バックアップの {name} が目録の SHA-256 と一致しません"
                "（a member does not match its digest in the manifest）。"
            )


# --- Verifying an installation against a manifest -------------------------------------------


def installation_verify(
    manifest: dict[str, Any], *, target: DatabaseTarget | None = None
) -> InstallationReport:
    """Compare the database and the file storage with ``manifest``: every application's
    answers digests, every attachment's row and decrypted file, every document's PDF digest,
    every stored file's digest. Rows made after the backup are counted apart (``newer``).
    Never raises for a difference: the report names each by id.
    """
    started = time.monotonic()
    target = target or DatabaseTarget.configured()
    report = InstallationReport()
    if not target.exists():
        raise BackupError(
            f"照合するデータベース（{target.describe()}）がありません"
            "（there is no database to verify against）。"
        )
    with target.connect() as db:
        now_contents = contents_read(db, target.vendor)
    saved_apps: dict[str, list[str]] = manifest.get("applications") or {}
    for pk, digests in saved_apps.items():
        report.applications_checked += 1
        current = now_contents.applications.get(pk)
        if current is None:
            report.add("申請がない（application missing）", pk)
        elif current != list(digests):
            report.add("申請の回答が一致しない（answers digest differs）", pk)
    report.newer["applications"] = len(set(now_contents.applications) - set(saved_apps))
    saved_docs: dict[str, str] = manifest.get("documents") or {}
    for pk, sha in saved_docs.items():
        report.documents_checked += 1
        found = now_contents.documents.get(pk)
        if found is None:
            report.add("発行文書がない（document missing）", pk)
        elif found != sha:
            report.add("発行文書の PDF が一致しない（document digest differs）", pk)
    report.newer["documents"] = len(set(now_contents.documents) - set(saved_docs))
    store = files.storage()
    saved_files: dict[str, dict[str, Any]] = manifest.get("files") or {}
    by_attachment = {files.attachment_id_of(name): name for name in saved_files}
    for name, item in saved_files.items():
        report.files_checked += 1
        try:
            with store.open(name, "rb") as handle:
                data = handle.read()
        except OSError:
            report.add("ファイルがない（stored file missing）", name)
            continue
        report.bytes_read += len(data)
        if hashlib.sha256(data).hexdigest() != item.get("sha256"):
            report.add("ファイルが一致しない（stored file differs）", name)
            continue
        attachment = files.attachment_id_of(name)
        if attachment is not None and attachment in now_contents.attachments:
            try:
                plain = decrypt_bytes(data)
            except DecryptionFailed:
                report.add("添付を復号できない（attachment cannot be decrypted）", attachment)
                continue
            if hashlib.sha256(plain).hexdigest() != now_contents.attachments[attachment]:
                report.add("添付の内容が一致しない（attachment digest differs）", attachment)
    saved_attachments: dict[str, str] = manifest.get("attachments") or {}
    missing_at_backup = set(manifest.get("missing_files") or [])
    for pk, sha in saved_attachments.items():
        report.attachments_checked += 1
        found = now_contents.attachments.get(pk)
        if found is None:
            report.add("添付がない（attachment missing）", pk)
        elif found != sha:
            report.add("添付の記録が一致しない（attachment digest differs）", pk)
        elif pk not in by_attachment and pk not in missing_at_backup:
            report.add("添付のファイルがない（attachment file missing）", pk)
    report.newer["attachments"] = len(set(now_contents.attachments) - set(saved_attachments))
    report.seconds = time.monotonic() - started
    return report


def backup_verify(
    path: Path, *, key: BackupKey, against_installation: bool, target: DatabaseTarget | None = None
) -> tuple[ArchiveReport, InstallationReport | None]:
    """Check the archive at ``path`` completely; with ``against_installation``, also compare
    the installation with its manifest. Raises what :func:`archive_read` raises."""
    archive = archive_read(path, key=key)
    if not against_installation:
        return archive, None
    return archive, installation_verify(archive.manifest, target=target)


# --- Restore --------------------------------------------------------------------------------


def _schema_check(manifest: dict[str, Any]) -> bool:
    """Raise :class:`NewerSchema` when the backup's migrations are unknown to this code;
    return whether this code has migrations the backup lacks (``migrate`` is then needed)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    saved: dict[str, str] = manifest.get("migrations") or {}
    unknown = sorted(f"{app}.{name}" for app, name in saved.items() if (app, name) not in known)
    if unknown:
        shown = "、".join(unknown[:5]) + (" ほか" if len(unknown) > 5 else "")
        raise NewerSchema(
            "このバックアップは、いまのコードより新しい版の窓口で作られました（未知のマイグレーション:"
            f" {shown}）。バックアップを作った版（{manifest.get('madoguchi_version')}）以降の窓口を"
            "入れてから復元してください（the backup's schema is newer than this code）。"
        )
    leaves = dict(loader.graph.leaf_nodes())
    return any(saved.get(app) != name for app, name in leaves.items())


def _storage_check_empty() -> None:
    for name in files.stored_names():
        raise NotEmpty(
            "復元先のファイル保存場所にすでにファイルがあります（例: "
            f"{name.split('/')[0]}/…）。上書きはしません。空の保存場所を用意してから、"
            "もう一度実行してください（the target file storage is not empty）。"
        )


def backup_restore(
    path: Path,
    *,
    key: BackupKey,
    from_other_installation: bool = False,
    target: DatabaseTarget | None = None,
    progress: Progress = _quiet,
) -> RestoreReport:
    """Bring the backup at ``path`` back into an empty database and file storage, then
    verify the installation against its manifest.

    Guarantees: nothing is written to the database or the storage before the whole archive
    checked out (every chunk, every member's digest) and every refusal below was ruled out.
    Raises, with nothing changed: :class:`~.errors.NotABackup`, :class:`~.errors.Truncated`,
    :class:`~.errors.WrongKey`, :class:`~.errors.Corrupted`, :class:`~.errors.OtherVendor`,
    :class:`~.errors.OtherInstallation` (unless ``from_other_installation``),
    :class:`~.errors.NewerSchema`, :class:`~.errors.NotEmpty`, :class:`~.errors.ToolMissing`;
    :class:`~.errors.ToolFailed` when ``pg_restore`` fails (its one transaction rolled back).
    """
    started = time.monotonic()
    target = target or DatabaseTarget.configured()
    target_check_empty(target)
    _storage_check_empty()
    existing_id = target_installation_id(target)

    def refuse_early(header: dict[str, Any]) -> None:
        vendor = header.get("vendor")
        if vendor != target.vendor:
            names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
            raise OtherVendor(
                f"このバックアップは {names.get(str(vendor), vendor)} のデータベースのものです。"
                f"{names[target.vendor]} には復元できません。同じ種類のデータベースを用意してください"
                "（the backup is of another database vendor）。"
            )
        if existing_id and header.get("installation_id") != existing_id:
            if not from_other_installation:
                raise OtherInstallation(
                    "このバックアップは別のインストールで作られたものです。取り違えでないことを"
                    "確かめたうえで復元するときは --from-other-installation を付けてください"
                    "（the backup comes from another installation）。"
                )

    with _private_folder() as folder:
        progress("バックアップを検査しています（checking the whole backup）…")
        archive = archive_read(path, key=key, into=folder, before=refuse_early)
        refuse_early(archive.header)  # an archive with no member at all
        migrate_needed = _schema_check(archive.manifest)
        # Checked again right before writing: nothing may have arrived meanwhile.
        target_check_empty(target)
        _storage_check_empty()
        progress("データベースを復元しています（restoring the database）…")
        restore(target, folder / str(archive.manifest["database"]["member"]))
        if existing_id and existing_id != archive.header.get("installation_id"):
            installation_id_set(target, existing_id)
        progress("ファイルを復元しています（restoring the stored files）…")
        count = 0
        root = folder / FILES_PREFIX.rstrip("/")
        for name in archive.manifest.get("files") or {}:
            with open(root / name, "rb") as handle:
                stored_as = files.file_put(name, handle)
            if stored_as != name:
                raise BackupError(
                    f"ファイル保存場所が名前を変えて保存しました（{name} → {stored_as}）"
                    "（the storage renamed a restored file）。"
                )
            count += 1
    progress("復元した内容を確かめています（verifying the restored installation）…")
    verification = installation_verify(archive.manifest, target=target)
    return RestoreReport(
        archive=archive,
        target=target.describe(),
        files=count,
        seconds=time.monotonic() - started,
        verification=verification,
        migrate_needed=migrate_needed,
    )


def key_file_apart(key_path: Path) -> str | None:
    """A warning when the key file lies in the data directory (a backup of that folder, or
    its disk's loss, would take the key with the data), else ``None``."""
    data_dir = Path(settings.DATA_DIR).resolve()
    if key_path.resolve().is_relative_to(data_dir):
        return (
            f"注意: 鍵ファイル {key_path} がデータディレクトリ {data_dir} の中にあります。"
            "バックアップとは別の場所（別の機器）に置いてください"
            "（warning: keep the backup key apart from the data directory）。"
        )
    return None


def sqlite_target(path: Path) -> DatabaseTarget:
    """An SQLite file as the target (tests and a restore to another file)."""
    return DatabaseTarget(vendor=SQLITE, sqlite_path=path)
