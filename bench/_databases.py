"""Throw-away databases for the volume benchmarks (exports, inbox) and their worker processes.

SQLite lives in a fresh data directory under ``var/bench``; PostgreSQL (when
``BENCH_POSTGRES_URL``, default ``postgres://postgres@127.0.0.1:5432/postgres``, answers) gets
a database created for the run and dropped after it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "_volume_worker.py"


@dataclass
class Database:
    label: str
    env: dict[str, str]
    data_dir: Path
    pg_name: str = ""
    pg_admin: str = ""


def say(line: str) -> None:
    print(f"  … {line}", file=sys.stderr, flush=True)  # noqa: T201  (progress of a long run)


def postgres_admin() -> str | None:
    url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 1):
            pass
    except OSError:
        return None
    return url


def _pg(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def chosen() -> list[str]:
    names = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    return [name.strip() for name in names if name.strip()]


def prepare(kind: str, tag: str) -> Database | None:
    """A fresh, empty database of ``kind`` ("sqlite" or "postgresql"), or None when
    PostgreSQL does not answer."""
    base = ROOT / "var" / "bench"
    base.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=base))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MADOGUCHI_") and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="madoguchi.conf.settings",
        MADOGUCHI_DATA_DIR=str(data_dir),
        MADOGUCHI_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(WORKER.parent), env.get("PYTHONPATH")])),
    )
    if kind == "sqlite":
        return Database("SQLite", env, data_dir)
    admin = postgres_admin()
    if admin is None:
        shutil.rmtree(data_dir, ignore_errors=True)
        return None
    name = f"madoguchi_bench_{tag}_{os.getpid()}"
    _pg(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _pg(admin, f"CREATE DATABASE {name}")
    parts = urlsplit(admin)
    env["MADOGUCHI_DATABASE_URL"] = parts._replace(path=f"/{name}").geturl()
    return Database("PostgreSQL", env, data_dir, name, admin)


def discard(db: Database) -> None:
    if db.pg_name:
        _pg(db.pg_admin, f"DROP DATABASE IF EXISTS {db.pg_name} WITH (FORCE)")
    shutil.rmtree(db.data_dir, ignore_errors=True)


def work(db: Database, command: str, timeout: float = 1200, **arguments: Any) -> dict[str, Any]:
    """Run one worker command in a fresh interpreter and return what it reported."""
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, str(WORKER), command, json.dumps(arguments)],
        env=db.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH-RESULT "))
            return result
    raise AssertionError(
        f"{command} failed on {db.label}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
