"""The database side of a backup: a consistent copy, what it holds, and its restoration.

PostgreSQL: ``pg_dump`` in its custom format, run as the owner role
(``MADOGUCHI_DATABASE_OWNER_URL``) so that row-level security hides nothing, inside one
exported snapshot that the manifest's digests are read from as well — the dump and its
manifest describe the same instant. ``pg_restore`` brings it back (one transaction, stop at
the first error) into an empty database; policies, grants and everything else the dump holds
come with it. SQLite: the online backup API (``sqlite3.Connection.backup``) copies the file
page by page while the server keeps writing, and the copy is read for the manifest.

Rows are read here with plain SQL on a connection of our own (never Django's, which may be a
role that row-level security restricts), using the tables' names from Django's models.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.db import connection

from madoguchi.applications.models import Application, Attachment
from madoguchi.core.models import Installation
from madoguchi.documents.models import Document
from madoguchi.ops.backup.errors import BackupError, NotEmpty, ToolFailed, ToolMissing

SQLITE: Final = "sqlite"
POSTGRESQL: Final = "postgresql"

#: Tables that a freshly migrated, never used database already fills: a target holding rows
#: in these only is still empty.
BOOKKEEPING_TABLES: Final = frozenset(
    {"django_migrations", "django_content_type", "auth_permission", Installation._meta.db_table}
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class DatabaseTarget:
    """The database a backup is read from or restored into."""

    vendor: str
    sqlite_path: Path | None = None
    #: libpq connection parameters of the owner role (password apart, in ``password``).
    pg_params: dict[str, str] = field(default_factory=dict)
    password: str = ""

    @classmethod
    def configured(cls, *, database: str | None = None) -> DatabaseTarget:
        """The installation's own database (the one Django uses), reached as the owner role.

        ``database`` names another database on the same PostgreSQL server (a scratch
        target) or another SQLite file.
        """
        current = connection.settings_dict
        if connection.vendor == SQLITE:
            return cls(vendor=SQLITE, sqlite_path=Path(database or str(current["NAME"])))
        from psycopg.conninfo import conninfo_to_dict

        params = {
            key: str(value)
            for key, value in conninfo_to_dict(settings.DATABASE_OWNER_URL).items()
            if value is not None
        }
        password = params.pop("password", "")
        # The owner role's credentials, on the database Django uses (under tests, the test
        # database pytest-django made, whose name differs from the URL's).
        params["dbname"] = database or str(current["NAME"])
        return cls(vendor=POSTGRESQL, pg_params=params, password=password)

    def describe(self) -> str:
        """Where it is, without a password (for messages)."""
        if self.vendor == SQLITE:
            return str(self.sqlite_path)
        host = self.pg_params.get("host", "")
        port = self.pg_params.get("port", "")
        return f"postgresql://{host}{':' + port if port else ''}/{self.pg_params.get('dbname')}"

    def _pg_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**self.pg_params)

    def _pg_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A DB-API connection (closed afterwards). SQLite: a missing file is not created."""
        if self.vendor == SQLITE:
            assert self.sqlite_path is not None
            try:
                sqlite = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
            except sqlite3.Error:
                raise self._unreachable() from None
            try:
                yield sqlite
            finally:
                sqlite.close()
            return
        import psycopg

        try:
            pg = psycopg.connect(self._pg_conninfo(), password=self.password or None)
        except psycopg.OperationalError:
            raise self._unreachable() from None
        try:
            yield pg
        finally:
            pg.close()

    def _unreachable(self) -> BackupError:
        return BackupError(
            f"データベース（{self.describe()}）に接続できません。設定"
            "（MADOGUCHI_DATABASE_URL、MADOGUCHI_DATABASE_OWNER_URL）とデータベースが動いているかを"
            "確かめてください（cannot connect to the database）。"
        )

    def exists(self) -> bool:
        """Whether there is a database to look into (an SQLite file; PostgreSQL: always)."""
        if self.vendor == SQLITE:
            assert self.sqlite_path is not None
            return self.sqlite_path.exists() and self.sqlite_path.stat().st_size > 0
        return True


# --- Reading what a database holds ------------------------------------------------------------


def tables(db: Any, vendor: str) -> list[str]:
    """The tables of our schema."""
    if vendor == SQLITE:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return sorted(str(row[0]) for row in db.execute(sql).fetchall())


def tables_with_rows(db: Any, vendor: str) -> list[str]:
    """The tables, bookkeeping aside, that hold at least one row."""
    found = []
    for table in tables(db, vendor):
        if table in BOOKKEEPING_TABLES:
            continue
        if db.execute(f"SELECT 1 FROM {_quote(table)} LIMIT 1").fetchone() is not None:  # noqa: S608 (names from the catalogue)
            found.append(table)
    return found


def installation_id_of(db: Any, vendor: str) -> str | None:
    """The installation id a database holds, as hex, or ``None``."""
    table = Installation._meta.db_table
    if table not in tables(db, vendor):
        return None
    row = db.execute(f"SELECT installation_id FROM {_quote(table)} WHERE singleton = 1").fetchone()  # noqa: S608
    return uuid.UUID(str(row[0])).hex if row else None


def _uuid_hex(value: Any) -> str:
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def stored_answers_digest(answers: Any) -> str:
    """SHA-256 of the stored answers in canonical JSON (sorted keys, UTF-8, no spaces): equal
    before and after a restore, whatever the database returns them as (text or parsed)."""
    if isinstance(answers, (str, bytes)):
        answers = json.loads(answers)
    text = json.dumps(answers, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Contents:
    """What a database holds, as a backup's manifest records it (ids, digests; no answers)."""

    migrations: dict[str, str]
    counts: dict[str, int]
    #: Application id → [answers_digest as stored, digest of the stored answers].
    applications: dict[str, list[str]]
    #: Attachment id (hex) → SHA-256 of the file's content (as the row records it).
    attachments: dict[str, str]
    #: Document id → SHA-256 of its PDF as it stands (sealed, with archival timestamps).
    documents: dict[str, str]


def contents_read(db: Any, vendor: str) -> Contents:
    """Read :class:`Contents` from ``db`` (its tables must exist)."""
    present = set(tables(db, vendor))
    migrations: dict[str, str] = {}
    if "django_migrations" in present:
        for app, name in db.execute("SELECT app, name FROM django_migrations ORDER BY id"):
            migrations[str(app)] = str(name)
    counts = {
        table: int(db.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0])  # noqa: S608
        for table in sorted(present)
    }
    applications: dict[str, list[str]] = {}
    table = Application._meta.db_table
    if table in present:
        for pk, digest, answers in db.execute(
            f"SELECT id, answers_digest, answers FROM {_quote(table)}"  # noqa: S608
        ):
            applications[str(pk)] = [str(digest), stored_answers_digest(answers)]
    attachments: dict[str, str] = {}
    table = Attachment._meta.db_table
    if table in present:
        for pk, sha256 in db.execute(f"SELECT id, sha256 FROM {_quote(table)}"):  # noqa: S608
            attachments[_uuid_hex(pk)] = str(sha256)
    documents: dict[str, str] = {}
    table = Document._meta.db_table
    if table in present:
        if vendor == POSTGRESQL:
            rows = db.execute(
                f"SELECT id, encode(sha256(pdf), 'hex') FROM {_quote(table)}"  # noqa: S608
            )
            documents = {str(pk): str(digest) for pk, digest in rows}
        else:
            for pk, pdf in db.execute(f"SELECT id, pdf FROM {_quote(table)}"):  # noqa: S608
                documents[str(pk)] = hashlib.sha256(bytes(pdf)).hexdigest()
    return Contents(migrations, counts, applications, attachments, documents)


# --- Making the copy ----------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} が見つかりません。PostgreSQL のクライアント（Debian/Ubuntu では"
            f" apt install postgresql-client）を入れてから、もう一度実行してください"
            f"（{name} is not installed）。"
        )
    return found


def _run(command: list[str], *, env: dict[str, str], what: str) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (our arguments)
    except OSError as error:
        raise ToolMissing(
            f"{what} を実行できません（cannot run {what}: {error.strerror}）。"
        ) from None
    if result.returncode != 0:
        # The tool's own error lines only (never a statement's data), and few of them.
        lines = [
            line.strip()[:300]
            for line in result.stderr.splitlines()
            if "error" in line.lower() or "fatal" in line.lower()
        ][:3]
        detail = " / ".join(lines) or f"exit status {result.returncode}"
        raise ToolFailed(f"{what} が失敗しました（{what} failed）: {detail}")


@contextmanager
def snapshot(target: DatabaseTarget, dump_path: Path) -> Iterator[Contents]:
    """Write a consistent copy of ``target`` to ``dump_path`` and yield what it holds.

    Raises :class:`ToolMissing` or :class:`ToolFailed` (PostgreSQL tools).
    """
    if target.vendor == SQLITE:
        assert target.sqlite_path is not None
        source = sqlite3.connect(target.sqlite_path)
        copy = sqlite3.connect(dump_path)
        try:
            source.backup(copy)
        finally:
            source.close()
        try:
            yield contents_read(copy, SQLITE)
        finally:
            copy.close()
        return
    import psycopg

    pg_dump = _tool("pg_dump")
    with target.connect() as db:
        db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        db.read_only = True
        (snapshot_id,) = db.execute("SELECT pg_export_snapshot()").fetchone() or ("",)
        _run(
            [
                pg_dump,
                "--format=custom",
                "--no-password",
                f"--snapshot={snapshot_id}",
                f"--file={dump_path}",
                f"--dbname={target._pg_conninfo()}",
            ],
            env=target._pg_env(),
            what="pg_dump",
        )
        yield contents_read(db, POSTGRESQL)
        db.rollback()


# --- Restoring it -------------------------------------------------------------------------------


def target_check_empty(target: DatabaseTarget) -> None:
    """Raise :class:`NotEmpty` when ``target`` holds any row beyond a fresh migration's."""
    if not target.exists():
        return
    with target.connect() as db:
        full = tables_with_rows(db, target.vendor)
    if full:
        if target.vendor == SQLITE:
            how = f"ファイル {target.describe()} を別の名前に移してから"
        else:
            how = "データベースを作り直して（dropdb と createdb、所有者のロールで）から"
        raise NotEmpty(
            f"復元先のデータベース（{target.describe()}）にはすでにデータがあります"
            f"（{len(full)} 個の表）。上書きはしません。残す必要がないことを確かめ、{how}"
            "もう一度実行してください（the target database is not empty; restore never"
            " overwrites data）。"
        )


def target_installation_id(target: DatabaseTarget) -> str | None:
    """The installation id ``target`` holds (a migrated, used installation), or ``None``."""
    if not target.exists():
        return None
    with target.connect() as db:
        return installation_id_of(db, target.vendor)


def restore(target: DatabaseTarget, dump_path: Path) -> None:
    """Put the copy at ``dump_path`` into ``target``, which :func:`target_check_empty` passed.

    SQLite: the file is replaced at once (written beside it, flushed, renamed). PostgreSQL:
    the tables of a freshly migrated database are dropped, then ``pg_restore`` runs in one
    transaction, so a failure leaves the database as empty as it was.
    Raises :class:`ToolMissing`, :class:`ToolFailed`.
    """
    if target.vendor == SQLITE:
        assert target.sqlite_path is not None
        path = target.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.restoring")
        shutil.copyfile(dump_path, temporary)
        os.chmod(temporary, 0o600)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return
    pg_restore = _tool("pg_restore")
    with target.connect() as db, db.transaction():
        leftover = tables(db, POSTGRESQL)
        if leftover:
            db.execute("DROP TABLE " + ", ".join(_quote(t) for t in leftover) + " CASCADE")
    _run(
        [
            pg_restore,
            "--format=custom",
            "--no-password",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={target._pg_conninfo()}",
            str(dump_path),
        ],
        env=target._pg_env(),
        what="pg_restore",
    )


def installation_id_set(target: DatabaseTarget, installation_id: str) -> None:
    """Give the restored database ``installation_id`` (a restore from another installation
    keeps the target's identity)."""
    table = _quote(Installation._meta.db_table)
    at = datetime.now(UTC)
    if target.vendor == SQLITE:
        assert target.sqlite_path is not None
        db = sqlite3.connect(target.sqlite_path)
        try:
            with db:
                db.execute(f"DELETE FROM {table}")  # noqa: S608
                db.execute(
                    f"INSERT INTO {table} (singleton, installation_id, created_at)"  # noqa: S608
                    " VALUES (1, ?, ?)",
                    [installation_id, at.strftime("%Y-%m-%d %H:%M:%S.%f")],
                )
        finally:
            db.close()
        return
    with target.connect() as pg, pg.transaction():
        pg.execute(f"DELETE FROM {table}")  # noqa: S608
        pg.execute(
            f"INSERT INTO {table} (singleton, installation_id, created_at)"  # noqa: S608
            " VALUES (1, %s, %s)",
            [str(uuid.UUID(installation_id)), at],
        )
