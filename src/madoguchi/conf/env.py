"""Reading typed values from the environment, with the errors a person can act on.

Kept apart from ``settings`` so that the production safety check can be unit-tested
without reloading Django's settings.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})

#: Every setting the platform reads, with its default as documented in the README.
#: ``ops.tests`` fails when one of these is missing from the README.
DOCUMENTED_SETTINGS: tuple[str, ...] = (
    "MADOGUCHI_ENV",
    "MADOGUCHI_DEBUG",
    "MADOGUCHI_SECRET_KEY",
    "MADOGUCHI_DATA_DIR",
    "MADOGUCHI_DATABASE_URL",
    "MADOGUCHI_ALLOWED_HOSTS",
    "MADOGUCHI_CSRF_TRUSTED_ORIGINS",
    "MADOGUCHI_TLS",
    "MADOGUCHI_HSTS_SECONDS",
    "MADOGUCHI_LOG_LEVEL",
    "MADOGUCHI_SESSION_IDLE_SECONDS",
    "MADOGUCHI_SESSION_MAX_SECONDS",
)


class SettingError(ValueError):
    """An environment variable holds a value that cannot be used."""


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingError(f"{name} must be true or false, not {raw!r}")


def env_int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingError(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def load_or_create_secret_key(data_dir: Path) -> str:
    """Return the secret key kept in the data directory, creating it on first use.

    Only for the embedded default: production must pass ``MADOGUCHI_SECRET_KEY``.
    The file is created with mode 0600 so that other local users cannot read it.
    """
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


@dataclass(frozen=True)
class ProductionCheck:
    """The facts the production safety check looks at."""

    debug: bool
    secret_key_from_env: str | None
    allowed_hosts: list[str]
    tls: bool
    database_url: str | None


def production_problems(check: ProductionCheck) -> list[str]:
    """Say, one sentence each, why these settings are unsafe for production (empty if safe)."""
    problems: list[str] = []
    if check.debug:
        problems.append("MADOGUCHI_DEBUG must be off in production (it shows internals to anyone).")
    key = check.secret_key_from_env
    if not key:
        problems.append("MADOGUCHI_SECRET_KEY must be set in production (50 or more characters).")
    elif len(key) < 50 or len(set(key)) < 5:
        problems.append(
            "MADOGUCHI_SECRET_KEY is too short or too simple: use 50 or more random characters."
        )
    if not check.allowed_hosts:
        problems.append("MADOGUCHI_ALLOWED_HOSTS must name the host names the platform answers to.")
    elif "*" in check.allowed_hosts:
        problems.append("MADOGUCHI_ALLOWED_HOSTS must not be '*' in production.")
    if not check.tls:
        problems.append(
            "MADOGUCHI_TLS must be on in production: the platform must be served over HTTPS "
            "(secure cookies, HSTS)."
        )
    if not check.database_url:
        problems.append(
            "MADOGUCHI_DATABASE_URL must be set in production (the embedded SQLite default "
            "is for trials and small installations only)."
        )
    return problems
