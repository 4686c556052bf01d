"""Reading typed values from the environment, with the errors a person can act on.

Kept apart from ``settings`` so that the production safety check can be unit-tested
without reloading Django's settings.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

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
    "MADOGUCHI_ENCRYPTION_KEYS",
    "MADOGUCHI_SMTP_URL",
    "MADOGUCHI_MAIL_FROM",
    "MADOGUCHI_EXTRA_FONTS",
    "MADOGUCHI_CLAMD",
    "MADOGUCHI_VIRUS_SCAN_EXTERNAL",
    "MADOGUCHI_WEBHOOK_ALLOW_PRIVATE",
    # Benchmark-only: the insert-only baseline endpoint (refused in production).
    "MADOGUCHI_BENCH_ENDPOINTS",
    # Test-only: which Chromium the browser tests drive, and whether its absence fails them.
    "MADOGUCHI_CHROMIUM",
    "MADOGUCHI_REQUIRE_BROWSER",
    # Test-only: whether a missing clamd fails the virus-scan tests instead of skipping them.
    "MADOGUCHI_REQUIRE_CLAMD",
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
    raise SettingError(
        f"{name} は true か false で指定してください（{name} must be true or false, not {raw!r}）"
    )


def env_int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingError(
            f"{name} は整数で指定してください（{name} must be a whole number, not {raw!r}）"
        ) from None
    if value < minimum:
        raise SettingError(
            f"{name} は {minimum} 以上にしてください（{name} must be at least {minimum}, not {value}）"
        )
    return value


def env_list(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


_CLAMD_ADDRESS = re.compile(r"^(unix:/.+|tcp:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):[0-9]{1,5})$")


def env_clamd(environ: Mapping[str, str], name: str = "MADOGUCHI_CLAMD") -> str:
    """Where clamd listens (``unix:/path`` or ``tcp:host:port``), or "" for no virus scan."""
    raw = environ.get(name, "").strip()
    if raw and not _CLAMD_ADDRESS.match(raw):
        raise SettingError(
            f"{name} は unix:/パス または tcp:ホスト:ポート で指定してください"
            f"（{name} must be unix:/path or tcp:host:port, not {raw!r}）"
        )
    return raw


def virus_scan_problems(*, clamd: str, external: bool) -> list[str]:
    """Production needs uploads scanned: a clamd to ask (``MADOGUCHI_CLAMD``), or the
    operator's explicit word that files are scanned elsewhere
    (``MADOGUCHI_VIRUS_SCAN_EXTERNAL=true``, e.g. by the storage or a gateway)."""
    if clamd or external:
        return []
    return [
        "本番では MADOGUCHI_CLAMD（ウイルス検査の clamd）が必要です。別の仕組みで検査している場合は"
        " MADOGUCHI_VIRUS_SCAN_EXTERNAL=true を設定してください（MADOGUCHI_CLAMD must be set in"
        " production: uploads from the internet are virus-scanned; set"
        " MADOGUCHI_VIRUS_SCAN_EXTERNAL=true only if files are scanned elsewhere）。"
    ]


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
    encryption_keys: list[str] | None = None
    bench_endpoints: bool = False


def production_problems(check: ProductionCheck) -> list[str]:
    """Say, one sentence each, why these settings are unsafe for production (empty if safe)."""
    problems: list[str] = []
    if check.debug:
        problems.append(
            "本番では MADOGUCHI_DEBUG を off にしてください（MADOGUCHI_DEBUG must be off in production: it shows internals to anyone）。"
        )
    key = check.secret_key_from_env
    if not key:
        problems.append(
            "本番では MADOGUCHI_SECRET_KEY が必要です（MADOGUCHI_SECRET_KEY must be set in production, 50 or more characters）。"
        )
    elif len(key) < 50 or len(set(key)) < 5:
        problems.append(
            "MADOGUCHI_SECRET_KEY が短すぎるか単純すぎます（MADOGUCHI_SECRET_KEY is too short or too simple: use 50 or more random characters）。"
        )
    if not check.allowed_hosts:
        problems.append(
            "MADOGUCHI_ALLOWED_HOSTS に応答するホスト名を指定してください（MADOGUCHI_ALLOWED_HOSTS must name the host names the platform answers to）。"
        )
    elif "*" in check.allowed_hosts:
        problems.append(
            "本番では MADOGUCHI_ALLOWED_HOSTS に '*' は使えません（MADOGUCHI_ALLOWED_HOSTS must not be '*' in production）。"
        )
    if not check.tls:
        problems.append(
            "本番では MADOGUCHI_TLS を on にし、HTTPS で提供してください（MADOGUCHI_TLS must be on "
            "in production: the platform must be served over HTTPS, secure cookies, HSTS）。"
        )
    if not check.database_url:
        problems.append(
            "本番では MADOGUCHI_DATABASE_URL を明示してください（MADOGUCHI_DATABASE_URL must be set "
            "in production: the embedded SQLite default is for trials and small installations only）。"
        )
    if check.encryption_keys is not None and not check.encryption_keys:
        problems.append(
            "本番では MADOGUCHI_ENCRYPTION_KEYS（Fernet 鍵、カンマ区切り）が必要です（MADOGUCHI_ENCRYPTION_KEYS "
            "must be set in production: My Number is encrypted with keys kept outside the database）。"
        )
    if check.bench_endpoints:
        problems.append(
            "本番では MADOGUCHI_BENCH_ENDPOINTS を off にしてください（MADOGUCHI_BENCH_ENDPOINTS must be "
            "off in production: the benchmark endpoint stores unvalidated data without authentication）。"
        )
    return problems


def email_settings(url: str) -> dict[str, Any]:
    """A Django ``MAILERS`` entry from ``smtp://user:password@host:port`` (``smtps://`` for TLS,
    ``?starttls=1`` for STARTTLS). An empty URL prints mail to the console."""
    if not url:
        return {"BACKEND": "madoguchi.notifications.console.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingError(
            "MADOGUCHI_SMTP_URL は smtp://ユーザー:パスワード@ホスト:ポート の形で指定してください"
            "（MADOGUCHI_SMTP_URL must look like smtp://user:password@host:port）"
        )
    query = parse_qs(parts.query)
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise SettingError(
            "MADOGUCHI_SMTP_URL のポート番号が正しくありません（invalid port）"
        ) from None
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname,
            "port": port,
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": parts.scheme == "smtps",
            "use_tls": query.get("starttls", ["0"])[0] in TRUE_WORDS,
            "timeout": 20,
        },
    }
