"""PostgreSQL's connection pool (``MADOGUCHI_DATABASE_POOL_MIN``/``_MAX``): sensible defaults,
hostile values refused with a clear message, SQLite unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from madoguchi.conf.env import (
    DATABASE_POOL_LIMIT,
    DATABASE_POOL_MAX_DEFAULT,
    DATABASE_POOL_MIN_DEFAULT,
    SettingError,
    env_database_pool,
)

PG_URL = "postgres://madoguchi@db.example.lg.jp:5432/madoguchi"


def test_defaults():
    assert env_database_pool({}) == (DATABASE_POOL_MIN_DEFAULT, DATABASE_POOL_MAX_DEFAULT)
    assert env_database_pool({"MADOGUCHI_DATABASE_POOL_MAX": " 1 "}) == (1, 1)
    assert env_database_pool(
        {"MADOGUCHI_DATABASE_POOL_MIN": "4", "MADOGUCHI_DATABASE_POOL_MAX": "24"}
    ) == (4, 24)
    assert env_database_pool({"MADOGUCHI_DATABASE_POOL_MIN": "", "MADOGUCHI_DATABASE_POOL_MAX": ""})


def test_a_maximum_of_zero_turns_the_pool_off():
    assert env_database_pool({"MADOGUCHI_DATABASE_POOL_MAX": "0"}) is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MADOGUCHI_DATABASE_POOL_MAX": "ten"}, "must be a whole number"),
        ({"MADOGUCHI_DATABASE_POOL_MAX": "1.5"}, "must be a whole number"),
        ({"MADOGUCHI_DATABASE_POOL_MAX": "-3"}, "must be at least 0"),
        ({"MADOGUCHI_DATABASE_POOL_MIN": "-1"}, "must be at least 0"),
        ({"MADOGUCHI_DATABASE_POOL_MIN": "１"}, ""),  # full-width digit: Python reads it as 1
        ({"MADOGUCHI_DATABASE_POOL_MAX": "10;DROP TABLE"}, "must be a whole number"),
        ({"MADOGUCHI_DATABASE_POOL_MAX": "9" * 40}, f"must be at most {DATABASE_POOL_LIMIT}"),
        ({"MADOGUCHI_DATABASE_POOL_MIN": "501"}, f"must be at most {DATABASE_POOL_LIMIT}"),
        (
            {"MADOGUCHI_DATABASE_POOL_MIN": "8", "MADOGUCHI_DATABASE_POOL_MAX": "4"},
            "must not exceed MADOGUCHI_DATABASE_POOL_MAX",
        ),
    ],
)
def test_hostile_values_are_refused_with_a_clear_message(environ, message):
    if not message:
        assert env_database_pool(environ) == (1, DATABASE_POOL_MAX_DEFAULT)
        return
    with pytest.raises(SettingError) as refused:
        env_database_pool(environ)
    assert message in str(refused.value)
    assert any("\u3040" <= ch <= "\u9fff" for ch in str(refused.value))


SHOW = (
    "import json, django; django.setup(); from django.conf import settings; "
    "d = settings.DATABASES['default']; "
    "print(json.dumps({k: d.get(k) for k in ('ENGINE', 'CONN_MAX_AGE', 'CONN_HEALTH_CHECKS', "
    "'OPTIONS')}, default=str))"
)


def _start(tmp_path, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MADOGUCHI_")}
    env["DJANGO_SETTINGS_MODULE"] = "madoguchi.conf.settings"
    env["MADOGUCHI_DATA_DIR"] = str(tmp_path / "data")
    env.update(environ)
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_postgresql_uses_the_pool_without_a_health_query_and_sqlite_is_unchanged(tmp_path):
    """Settings only (no connection is made): one process each for PostgreSQL with the
    operator's sizes, PostgreSQL with the pool off, and SQLite."""
    pooled = _start(
        tmp_path,
        MADOGUCHI_DATABASE_URL=PG_URL,
        MADOGUCHI_DATABASE_POOL_MIN="3",
        MADOGUCHI_DATABASE_POOL_MAX="12",
    )
    assert pooled.returncode == 0, pooled.stderr
    config = json.loads(pooled.stdout.strip().splitlines()[-1])
    assert config["OPTIONS"]["pool"] == {"min_size": 3, "max_size": 12}
    assert config["CONN_MAX_AGE"] == 0  # Django requires it with a pool
    assert config["CONN_HEALTH_CHECKS"] is False

    unpooled = _start(tmp_path, MADOGUCHI_DATABASE_URL=PG_URL, MADOGUCHI_DATABASE_POOL_MAX="0")
    config = json.loads(unpooled.stdout.strip().splitlines()[-1])
    assert "pool" not in config["OPTIONS"]
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True

    sqlite = _start(tmp_path)
    config = json.loads(sqlite.stdout.strip().splitlines()[-1])
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "pool" not in config["OPTIONS"]


def test_a_hostile_pool_size_stops_the_start_with_a_clear_error(tmp_path):
    result = _start(
        tmp_path,
        MADOGUCHI_DATABASE_URL=PG_URL,
        MADOGUCHI_DATABASE_POOL_MIN="50",
        MADOGUCHI_DATABASE_POOL_MAX="5",
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert (
        "MADOGUCHI_DATABASE_POOL_MIN must not exceed MADOGUCHI_DATABASE_POOL_MAX" in result.stderr
    )
