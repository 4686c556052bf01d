"""The backup drill and its bad inputs (issue 15, item 2).

The drill: make data (two submitted applications with real, encrypted attachments and an
issued document), back up, wipe (a fresh machine: no database file / an empty scratch
database, an empty file storage), restore, verify — every attachment's bytes and every
application's answers digests equal. It runs on the database the suite runs on: the CI
runs the suite on SQLite and on PostgreSQL, so each drill runs there.

Bad inputs: a truncated archive (mid-chunk and exactly between chunks), a flipped byte,
another key, another installation, another database vendor, a newer schema, a non-empty
target, a missing ``pg_restore``: each is refused with a clear Japanese message, the command
exits non-zero without a traceback, and nothing is changed.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.db import connection

from madoguchi.applications.models import Application, Attachment, IssuedDocument
from madoguchi.core.crypto import decrypt_bytes
from madoguchi.core.models import Installation
from madoguchi.core.time import now
from madoguchi.documents.testing import document_record_make
from madoguchi.ops.backup import files
from madoguchi.ops.backup.archive import (
    MAGIC,
    EncryptingWriter,
    key_generate,
    key_load,
)
from madoguchi.ops.backup.database import (
    POSTGRESQL,
    SQLITE,
    DatabaseTarget,
    contents_read,
)
from madoguchi.ops.backup.errors import (
    Corrupted,
    KeyFileProblem,
    NewerSchema,
    NotEmpty,
    OtherInstallation,
    OtherVendor,
    ToolMissing,
    Truncated,
    WrongKey,
)
from madoguchi.ops.backup.service import (
    DATABASE_MEMBERS,
    MANIFEST_MEMBER,
    archive_read,
    backup_create,
    backup_restore,
)
from madoguchi.testing import procedure_publish, submit, valid_answers, with_real_files

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL drill runs when the suite does"
)
on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the SQLite drill runs when the suite does"
)


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def machine(settings, tmp_path):
    """The installation's data directory (its file storage lives in ``files/``)."""
    settings.DATA_DIR = tmp_path / "machine-a"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def key_path(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    path = folder / "backup.key"
    key_generate(path)
    return path


@pytest.fixture
def key(key_path):
    return key_load(key_path)


@pytest.fixture
def big_file(machine):
    """A stored file beside the attachments (more than one chunk of the archive)."""
    return storages["default"].save("extra/blob", ContentFile(os.urandom(1_500_000)))


@pytest.fixture
def archive(machine, big_file, key, tmp_path):
    """A backup of the test database as committed (the reference data) and of the files."""
    path = tmp_path / "out" / "backup.mdgbak"
    path.parent.mkdir()
    backup_create(out=path, key=key, now=now())
    return path


def _pg_admin(sql: str) -> None:
    import psycopg

    target = DatabaseTarget.configured()
    with psycopg.connect(target._pg_conninfo(), password=target.password or None) as db:
        db.autocommit = True
        db.execute(sql)


@pytest.fixture
def empty_target(tmp_path):
    """An empty database of the suite's vendor: a fresh machine's (SQLite: no file yet;
    PostgreSQL: a scratch database beside the test database, dropped afterwards)."""
    if connection.vendor == SQLITE:
        yield DatabaseTarget(vendor=SQLITE, sqlite_path=tmp_path / "machine-b" / "db.sqlite3")
        return
    name = f"{connection.settings_dict['NAME']}_restore_{secrets.token_hex(4)}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield DatabaseTarget.configured(database=name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_storage(settings, tmp_path):
    """Switch the installation to another, empty data directory (the wiped machine's)."""

    def switch():
        settings.DATA_DIR = tmp_path / "machine-b"
        settings.DATA_DIR.mkdir(exist_ok=True)
        return settings.DATA_DIR

    return switch


def target_rows(target):
    if not target.exists():
        return {}
    with target.connect() as db:
        return contents_read(db, target.vendor).counts


def rewrite(source: Path, destination: Path, key, *, header=None, manifest=None, member=None):
    """A copy of a backup with its header or manifest changed, sealed with ``key`` (what
    another version of Madoguchi, or another installation, would have written)."""
    folder = destination.parent / "unpacked"
    found = archive_read(source, key=key, into=folder)
    new_header = {k: found.header[k] for k in ("installation_id", "created_at", "vendor")}
    new_header.update(header or {})
    new_manifest = {**found.manifest, **(manifest or {})}
    database = dict(new_manifest["database"])
    old_member = database["member"]
    database["member"] = member or old_member
    new_manifest["database"] = database
    with open(destination, "wb") as sink:
        writer = EncryptingWriter(sink, key=key, header=new_header)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            tar.add(folder / old_member, arcname=database["member"])
            for name in new_manifest["files"]:
                tar.add(folder / "files" / name, arcname=f"files/{name}")
            data = json.dumps(new_manifest).encode()
            info = tarfile.TarInfo(MANIFEST_MEMBER)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        writer.close()
    return destination


def chunk_ends(data: bytes) -> list[int]:
    """Where each chunk of an archive ends (offsets)."""
    position = len(MAGIC)
    position += 4 + int.from_bytes(data[position : position + 4], "big")
    ends = []
    while position < len(data):
        position += 4 + int.from_bytes(data[position : position + 4], "big")
        ends.append(position)
    return ends


# --- The drill --------------------------------------------------------------------------------


def make_data(organisation, resident):
    procedure = procedure_publish(organisation, "jidou-teate-nintei")
    applications = [
        submit(
            procedure, resident, with_real_files(procedure, valid_answers(procedure), resident)
        ).application
        for _ in range(2)
    ]
    IssuedDocument.objects.create(
        organisation=organisation,
        application=applications[0],
        kind="decision_approve",
        title="認定通知書",
        record=document_record_make(
            organisation=organisation, pdf=b"%PDF-1.7 " + os.urandom(64), now=now()
        ),
        created_at=now(),
    )
    return applications


def drill(machine, fresh_storage, empty_target, key, tmp_path, organisation, resident):
    """The whole drill (a few seconds: a transactional test, whose database is emptied and
    reloaded afterwards, since a backup can only see committed data)."""
    applications = make_data(organisation, resident)
    attachments = {
        a.pk.hex: storages["default"].open(name).read()
        for a in Attachment.objects.filter(application__in=applications)
        for name in files.stored_names()
        if files.attachment_id_of(name) == a.pk.hex
    }
    assert len(attachments) >= 2
    digests = dict(Application.objects.values_list("id", "answers_digest"))
    source_id = (
        Installation.objects.get().installation_id.hex if Installation.objects.exists() else None
    )
    path = tmp_path / "drill.mdgbak"

    created = backup_create(out=path, key=key, now=now())
    assert created.applications == len(digests) >= 2
    assert created.attachments >= 2
    assert created.documents >= 1
    assert not created.missing_files
    assert source_id in (None, created.installation_id)

    fresh_storage()  # the wiped machine: no file
    assert not empty_target.exists() or not target_rows(empty_target).get(
        "applications_application"
    )
    restored = backup_restore(path, key=key, target=empty_target)

    assert restored.verification.ok, restored.verification.problems
    assert restored.verification.applications_checked == len(digests)
    with empty_target.connect() as db:
        after = contents_read(db, empty_target.vendor)
        (installation,) = db.execute("SELECT installation_id FROM core_installation").fetchone()
    assert {int(pk): pair[0] for pk, pair in after.applications.items()} == digests
    assert uuid.UUID(str(installation)).hex == created.installation_id
    for pk, stored in attachments.items():
        (name,) = [n for n in files.stored_names() if files.attachment_id_of(n) == pk]
        again = storages["default"].open(name).read()
        assert again == stored
        assert decrypt_bytes(again) == decrypt_bytes(stored)
    return restored


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_drill_on_sqlite_back_up_wipe_restore_verify(
    machine, fresh_storage, empty_target, key, tmp_path, organisation, resident
):
    drill(machine, fresh_storage, empty_target, key, tmp_path, organisation, resident)
    assert empty_target.sqlite_path.stat().st_mode & 0o077 == 0


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_drill_on_postgresql_back_up_wipe_restore_verify(
    machine, fresh_storage, empty_target, key, tmp_path, organisation, resident
):
    drill(machine, fresh_storage, empty_target, key, tmp_path, organisation, resident)


# --- The archive: every chunk and digest is checked ------------------------------------------


pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_verify_reads_every_chunk_and_matches_the_manifest(archive, key, big_file):
    found = archive_read(archive, key=key)
    assert found.chunks >= 2
    assert found.manifest["vendor"] == connection.vendor
    assert big_file in found.manifest["files"]
    assert found.manifest["installation_id"] == Installation.objects.get().installation_id.hex
    assert found.manifest["migrations"]["core"] == "0001_installation_identity"


@pytestmark_db
def test_the_archive_holds_no_key_and_no_plaintext(archive, key_path, machine):
    data = archive.read_bytes()
    assert key_path.read_text().strip().split(":", 1)[1].encode() not in data
    assert b"SQLite format" not in data
    assert b"PGDMP" not in data
    assert b"organisations" not in data


@pytestmark_db
@pytest.mark.parametrize("where", ["middle of a chunk", "between chunks", "inside the header"])
def test_a_truncated_backup_is_named_as_truncated(archive, key, tmp_path, where):
    data = archive.read_bytes()
    ends = chunk_ends(data)
    cut = {
        "middle of a chunk": ends[-1] - 100,
        "between chunks": ends[-2],
        "inside the header": len(MAGIC) + 10,
    }[where]
    cut_path = tmp_path / "cut.mdgbak"
    cut_path.write_bytes(data[:cut])
    with pytest.raises(Truncated, match="途中で切れています"):
        archive_read(cut_path, key=key)


@pytestmark_db
@pytest.mark.parametrize("where", ["header", "first chunk", "last chunk", "after the end"])
def test_a_flipped_byte_anywhere_is_refused(archive, key, tmp_path, where):
    data = bytearray(archive.read_bytes())
    ends = chunk_ends(bytes(data))
    if where == "after the end":
        data += b"\x00" * 40
    else:
        position = {
            "header": len(MAGIC) + 30,
            "first chunk": ends[0] - 50,
            "last chunk": ends[-1] - 5,
        }
        data[position[where]] ^= 0x01
    damaged = tmp_path / "damaged.mdgbak"
    damaged.write_bytes(bytes(data))
    with pytest.raises(Corrupted):
        archive_read(damaged, key=key)


@pytestmark_db
def test_another_key_is_named_before_anything_is_read(archive, tmp_path):
    other = key_generate(tmp_path / "other.key")
    with pytest.raises(WrongKey, match="別の鍵"):
        archive_read(archive, key=other)


@pytestmark_db
def test_restore_checks_the_whole_archive_before_touching_anything(
    archive, key, tmp_path, empty_target, fresh_storage
):
    data = bytearray(archive.read_bytes())
    data[chunk_ends(bytes(data))[-1] - 5] ^= 0x01  # the last chunk, after the database
    damaged = tmp_path / "damaged.mdgbak"
    damaged.write_bytes(bytes(data))
    storage_dir = fresh_storage()
    before = target_rows(empty_target)
    with pytest.raises(Corrupted):
        backup_restore(damaged, key=key, target=empty_target)
    assert target_rows(empty_target) == before
    assert list(files.stored_names()) == []
    assert not (storage_dir / "files").exists() or not any((storage_dir / "files").iterdir())


# --- Refusals of restore ---------------------------------------------------------------------


@pytestmark_db
def test_restore_onto_a_non_empty_database_is_refused_and_changes_nothing(archive, key):
    target = DatabaseTarget.configured()
    before = target_rows(target)
    with pytest.raises(NotEmpty, match="すでにデータがあります"):
        backup_restore(archive, key=key, target=target)
    assert target_rows(target) == before


@pytestmark_db
def test_restore_onto_a_non_empty_file_storage_is_refused(archive, key, empty_target, big_file):
    with pytest.raises(NotEmpty, match="ファイル保存場所"):
        backup_restore(archive, key=key, target=empty_target)
    assert target_rows(empty_target) == {} or not any(target_rows(empty_target).values())


def _give_installation(target, installation_id):
    """A used, empty installation: only its identity row (what a migrated database that
    once made a backup holds)."""
    sql = (
        "CREATE TABLE core_installation (singleton smallint PRIMARY KEY, installation_id"
        " varchar(36) NOT NULL, created_at varchar(40) NOT NULL)"
    )
    insert = f"INSERT INTO core_installation VALUES (1, '{installation_id}', '2026-01-01')"
    if target.vendor == SQLITE:
        import sqlite3

        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        lite = sqlite3.connect(target.sqlite_path)
        with lite:
            lite.execute(sql)
            lite.execute(insert)
        lite.close()
        return
    import psycopg

    with psycopg.connect(target._pg_conninfo(), password=target.password or None) as db:
        db.execute(sql)
        db.execute(insert)


@pytestmark_db
def test_a_backup_of_another_installation_is_refused_unless_asked_for(
    archive, key, empty_target, fresh_storage
):
    fresh_storage()
    mine = uuid.uuid4().hex
    _give_installation(empty_target, mine)
    with pytest.raises(OtherInstallation, match="別のインストール"):
        backup_restore(archive, key=key, target=empty_target)
    assert target_rows(empty_target) == {"core_installation": 1}

    restored = backup_restore(archive, key=key, target=empty_target, from_other_installation=True)

    assert restored.verification.ok, restored.verification.problems
    with empty_target.connect() as db:
        (kept,) = db.execute("SELECT installation_id FROM core_installation").fetchone()
    assert uuid.UUID(str(kept)).hex == mine  # the target keeps its own identity


@pytestmark_db
def test_a_backup_of_another_database_vendor_is_refused(
    archive, key, tmp_path, empty_target, fresh_storage
):
    fresh_storage()
    other = POSTGRESQL if connection.vendor == SQLITE else SQLITE
    foreign = rewrite(
        archive,
        tmp_path / "rw" / "foreign.mdgbak",
        key,
        header={"vendor": other},
        manifest={"vendor": other},
        member=DATABASE_MEMBERS[other],
    )
    with pytest.raises(OtherVendor, match="には復元できません"):
        backup_restore(foreign, key=key, target=empty_target)
    assert not any(target_rows(empty_target).values())


@pytestmark_db
def test_a_backup_with_a_newer_schema_is_refused(
    archive, key, tmp_path, empty_target, fresh_storage
):
    fresh_storage()
    found = archive_read(archive, key=key)
    future = rewrite(
        archive,
        tmp_path / "rw" / "future.mdgbak",
        key,
        manifest={"migrations": {**found.manifest["migrations"], "core": "0099_from_the_future"}},
    )
    with pytest.raises(NewerSchema, match="新しい版"):
        backup_restore(future, key=key, target=empty_target)
    assert not any(target_rows(empty_target).values())


@on_postgresql
@pytestmark_db
def test_restore_without_pg_restore_says_what_to_install(
    archive, key, empty_target, fresh_storage, monkeypatch, tmp_path
):
    fresh_storage()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="pg_restore が見つかりません"):
        backup_restore(archive, key=key, target=empty_target)
    assert not any(target_rows(empty_target).values())


# --- The key file ---------------------------------------------------------------------------


def test_keygen_never_overwrites_and_a_readable_key_is_refused(tmp_path):
    path = tmp_path / "k"
    key_generate(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeyFileProblem, match="上書きはしません"):
        key_generate(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileProblem, match="chmod 600"):
        key_load(path)
    (tmp_path / "not-a-key").write_text("hello")
    (tmp_path / "not-a-key").chmod(0o600)
    with pytest.raises(KeyFileProblem, match="鍵ファイルではありません"):
        key_load(tmp_path / "not-a-key")


# --- The command ----------------------------------------------------------------------------


@pytestmark_db
def test_the_command_creates_verifies_and_refuses_in_japanese(
    machine, key_path, tmp_path, settings
):
    settings.BACKUP_KEY_FILE = str(key_path)
    path = tmp_path / "cmd.mdgbak"
    out = io.StringIO()
    call_command("backup", "create", "--out", str(path), stdout=out)
    assert "バックアップを作りました" in out.getvalue()
    out = io.StringIO()
    call_command("backup", "verify", str(path), "--against-installation", stdout=out)
    assert "バックアップは完全です" in out.getvalue()
    assert "すべて一致しました" in out.getvalue()
    for argv, expected in (
        (["create", "--out", str(path)], "すでにあります"),
        (["restore", str(path)], "すでにデータがあります"),
    ):
        err = io.StringIO()
        with pytest.raises(SystemExit) as exited:
            call_command("backup", *argv, stdout=io.StringIO(), stderr=err)
        assert exited.value.code == 1
        assert expected in err.getvalue()
    settings.BACKUP_KEY_FILE = ""
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("backup", "verify", str(path), stdout=io.StringIO(), stderr=err)
    assert "MADOGUCHI_BACKUP_KEY_FILE" in err.getvalue()


def test_a_truncated_backup_exits_non_zero_without_a_traceback(tmp_path):
    """The real command in its own process: a message and status 1, never a traceback.

    Slow-ish (a Python process that loads Django: a few seconds): only a real process shows
    what an operator sees on the terminal and the exit status."""
    key_path = tmp_path / "k"
    key = key_generate(key_path)
    path = tmp_path / "b.mdgbak"
    with open(path, "wb") as sink:
        writer = EncryptingWriter(sink, key=key, header={"vendor": "sqlite"})
        writer.write(os.urandom(3 * 1024 * 1024))
        writer.close()
    path.write_bytes(path.read_bytes()[:-1000])
    env = {
        **os.environ,
        "MADOGUCHI_DATA_DIR": str(tmp_path / "data"),
        "MADOGUCHI_BACKUP_KEY_FILE": str(key_path),
        "DJANGO_SETTINGS_MODULE": "madoguchi.conf.settings",
    }
    for command in ("verify", "restore"):
        result = subprocess.run(
            [sys.executable, "-m", "madoguchi", "backup", command, str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 1
        assert "途中で切れています" in result.stderr
        assert "Traceback" not in result.stderr
        assert "CommandError" not in result.stderr
        # The refused restore made no database (settings' own secret_key/static may be there).
        assert not (tmp_path / "data" / "madoguchi.sqlite3").exists()
    # A restore onto non-empty file storage is refused, again without making a database.
    stored = tmp_path / "data" / "files" / "extra" / "blob"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"x")
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "backup", "restore", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert "すでにファイルがあります" in result.stderr
    assert not (tmp_path / "data" / "madoguchi.sqlite3").exists()


# --- Where the plaintext is while a command works -------------------------------------------


@pytestmark_db
def test_decrypted_data_stays_in_a_private_folder_under_the_data_directory(machine, key, tmp_path):
    root = machine / "run" / "backup-tmp"
    root.mkdir(parents=True)
    # What a backup killed with SIGKILL left: its process (a pid above any pid_max) is gone.
    stale = root / "999999999-killed"
    stale.mkdir()
    (stale / "madoguchi.sqlite3").write_bytes(b"plaintext of yesterday")
    seen: list[tuple[list[str], int]] = []

    def progress(text: str) -> None:
        seen.append((sorted(p.name for p in root.iterdir()), root.stat().st_mode & 0o777))

    out = tmp_path / "private.mdgbak"
    backup_create(out=out, key=key, now=now(), progress=progress)

    names, mode = seen[0]  # while the database was being copied
    assert len(names) == 1
    assert names[0].startswith(f"{os.getpid()}-")
    assert mode == 0o700
    assert list(root.iterdir()) == []  # the stale folder and this command's are gone


@pytestmark_db
@pytest.mark.parametrize("chunk_bytes", [2**32 - 1, 0, "many"])
def test_an_edited_chunk_size_is_refused_before_any_chunk_is_read(
    archive, key, tmp_path, chunk_bytes
):
    # The header is authenticated only with the chunks: its chunk size must not decide how
    # much is read (a 4 GiB buffer) before that.
    data = archive.read_bytes()
    start = len(MAGIC) + 4
    length = int.from_bytes(data[len(MAGIC) : start], "big")
    header = json.loads(data[start : start + length])
    header["chunk_bytes"] = chunk_bytes
    raw = json.dumps(header).encode()
    edited = tmp_path / "edited.mdgbak"
    edited.write_bytes(MAGIC + len(raw).to_bytes(4, "big") + raw + data[start + length :])

    with pytest.raises(Corrupted, match="見出しが壊れています"):
        archive_read(edited, key=key)
