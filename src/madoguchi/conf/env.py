"""Reading typed values from the environment, with the errors a person can act on.

Kept apart from ``settings`` so that the production safety check can be unit-tested
without reloading Django's settings.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import secrets
import stat
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.fernet import Fernet

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
    "MADOGUCHI_DATABASE_OWNER_URL",
    "MADOGUCHI_BACKUP_KEY_FILE",
    "MADOGUCHI_DATABASE_POOL_MIN",
    "MADOGUCHI_DATABASE_POOL_MAX",
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
    "MADOGUCHI_CONSOLE_URL",
    "MADOGUCHI_PORTAL_URL",
    "MADOGUCHI_EXTRA_FONTS",
    "MADOGUCHI_VERIFY_MAX_BYTES",
    "MADOGUCHI_VERIFY_MEMORY_MB",
    "MADOGUCHI_VERIFY_CPU_SECONDS",
    "MADOGUCHI_VERIFY_TIMEOUT_SECONDS",
    "MADOGUCHI_VERIFY_CONCURRENCY",
    "MADOGUCHI_CLAMD",
    "MADOGUCHI_VIRUS_SCAN_EXTERNAL",
    "MADOGUCHI_WEBHOOK_ALLOW_PRIVATE",
    "MADOGUCHI_WEBHOOK_ALLOWED_NETWORKS",
    "MADOGUCHI_METRICS_TOKEN",
    "MADOGUCHI_METRICS_NETWORKS",
    "MADOGUCHI_JPKI_TRUST_ANCHORS",
    "MADOGUCHI_JPKI_VERIFY_URL",
    "MADOGUCHI_JPKI_VERIFY_TOKEN",
    "MADOGUCHI_WEBAUTHN_RP_ID",
    "MADOGUCHI_WEBAUTHN_ORIGINS",
    "MADOGUCHI_OIDC_TIMEOUT",
    "MADOGUCHI_OIDC_NATIONAL_ISSUER",
    "MADOGUCHI_OIDC_NATIONAL_CLIENT_ID",
    "MADOGUCHI_OIDC_NATIONAL_PRIVATE_KEY",
    "MADOGUCHI_OIDC_NATIONAL_ENCRYPTION_KEY",
    "MADOGUCHI_OIDC_NATIONAL_ACR_VALUES",
    "MADOGUCHI_OIDC_GBIZID_ISSUER",
    "MADOGUCHI_OIDC_GBIZID_CLIENT_ID",
    "MADOGUCHI_OIDC_GBIZID_PRIVATE_KEY",
    "MADOGUCHI_DEMO_IDP",
    "MADOGUCHI_SEAL_DIR",
    "MADOGUCHI_SEAL_KEY_PASSPHRASE_FILE",
    "MADOGUCHI_SEAL_PKCS11_MODULE",
    "MADOGUCHI_SEAL_PKCS11_TOKEN",
    "MADOGUCHI_SEAL_PKCS11_KEY_LABEL",
    "MADOGUCHI_SEAL_PKCS11_PIN_FILE",
    "MADOGUCHI_SEAL_TRUST_ROOTS",
    "MADOGUCHI_SEAL_ARCHIVE_MARGIN_DAYS",
    "MADOGUCHI_TSA_URL",
    "MADOGUCHI_TSA_USERNAME",
    "MADOGUCHI_TSA_PASSWORD_FILE",
    "MADOGUCHI_TSA_TIMEOUT",
    "MADOGUCHI_TSA_TRUST_ROOTS",
    # Scaling out (conf.scale): tasks on Redis, files on object storage, a read replica.
    "MADOGUCHI_TASKS_URL",
    "MADOGUCHI_S3_BUCKET",
    "MADOGUCHI_S3_ENDPOINT_URL",
    "MADOGUCHI_S3_REGION",
    "MADOGUCHI_S3_ACCESS_KEY_ID",
    "MADOGUCHI_S3_SECRET_ACCESS_KEY",
    "MADOGUCHI_S3_SECRET_ACCESS_KEY_FILE",
    "MADOGUCHI_S3_ADDRESSING_STYLE",
    "MADOGUCHI_S3_SERVER_SIDE_ENCRYPTION",
    "MADOGUCHI_S3_PREFIX",
    "MADOGUCHI_S3_TIMEOUT",
    "MADOGUCHI_S3_ALLOW_INSECURE",
    "MADOGUCHI_DATABASE_REPLICA_URL",
    "MADOGUCHI_REPLICA_STICKY_SECONDS",
    "MADOGUCHI_REPLICA_MAX_LAG_SECONDS",
    # Benchmark-only: the insert-only baseline endpoint (refused in production).
    "MADOGUCHI_BENCH_ENDPOINTS",
    "MADOGUCHI_MAX_INFLIGHT",
    "MADOGUCHI_ADMISSION_QUEUE_MS",
    # Set by `madoguchi serve` for its workers (the shared admission count), not by operators.
    "MADOGUCHI_ADMISSION_FILE",
    "MADOGUCHI_ADMISSION_QUEUE_MAX",
    "MADOGUCHI_CLIENT_LIMIT_EXPENSIVE",
    "MADOGUCHI_ROLE",
    "MADOGUCHI_LOG_FORMAT",
    # Test-only: which Chromium the browser tests drive, and whether its absence fails them.
    "MADOGUCHI_CHROMIUM",
    "MADOGUCHI_REQUIRE_BROWSER",
    # Test-only: whether a missing clamd fails the virus-scan tests instead of skipping them.
    "MADOGUCHI_REQUIRE_CLAMD",
)


class SettingError(ValueError):
    """An environment variable holds a value that cannot be used."""


#: What one installation's process serves (三層の対策): ``portal`` the internet side,
#: ``console`` the LGWAN side, ``all`` both (one host, ``make run``).
ROLES: tuple[str, ...] = ("all", "portal", "console")


def env_role(environ: Mapping[str, str], name: str = "MADOGUCHI_ROLE") -> str:
    """The role this process serves (:data:`ROLES`); unset or empty: ``all``."""
    raw = environ.get(name, "")
    word = raw.strip().lower() or "all"
    if word not in ROLES:
        raise SettingError(
            f"{name} は all、portal、console のいずれかです"
            f"（{name} must be all, portal or console, not {raw!r}）"
        )
    return word


def env_rate(environ: Mapping[str, str], name: str, default: tuple[int, int]) -> tuple[int, int]:
    """A rate limit written ``most/seconds`` (``60/60``: 60 requests a minute); ``0``: off,
    returned as ``(0, 1)``. Unset or empty: ``default``."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if raw == "0":
        return (0, 1)
    most, _, window = raw.partition("/")
    try:
        pair = (int(most), int(window))
    except ValueError:
        pair = (0, 0)
    if pair[0] < 1 or pair[1] < 1:
        raise SettingError(
            f"{name} は 回数/秒数（例: 60/60）か 0 で指定してください"
            f"（{name} must be most/seconds such as 60/60, or 0, not {raw!r}）"
        )
    return pair


def env_choice(
    environ: Mapping[str, str], name: str, choices: tuple[str, ...], default: str
) -> str:
    """One word of ``choices`` (case-insensitive); unset or empty: ``default``."""
    raw = environ.get(name, "")
    word = raw.strip().lower() or default
    if word not in choices:
        listed = "、".join(choices)
        raise SettingError(
            f"{name} は {listed} のいずれかです"
            f"（{name} must be one of {', '.join(choices)}, not {raw!r}）"
        )
    return word


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


#: Connections one server process keeps open at least, and may open at most (PostgreSQL).
DATABASE_POOL_MIN_DEFAULT = 2
DATABASE_POOL_MAX_DEFAULT = 10
#: Far above any real pool: a typo such as 10000 would exhaust PostgreSQL's max_connections.
DATABASE_POOL_LIMIT = 500


def env_database_pool(environ: Mapping[str, str]) -> tuple[int, int] | None:
    """``MADOGUCHI_DATABASE_POOL_MIN``/``_MAX`` as (min, max) for psycopg's pool, or None when
    ``_MAX`` is 0 (no pool). Raises :class:`SettingError` for a value that is not a whole
    number, negative, above :data:`DATABASE_POOL_LIMIT`, or a minimum above the maximum."""
    high = env_int(environ, "MADOGUCHI_DATABASE_POOL_MAX", DATABASE_POOL_MAX_DEFAULT)
    if high == 0:
        return None
    low = env_int(environ, "MADOGUCHI_DATABASE_POOL_MIN", min(DATABASE_POOL_MIN_DEFAULT, high))
    for name, value in (
        ("MADOGUCHI_DATABASE_POOL_MAX", high),
        ("MADOGUCHI_DATABASE_POOL_MIN", low),
    ):
        if value > DATABASE_POOL_LIMIT:
            raise SettingError(
                f"{name} は {DATABASE_POOL_LIMIT} 以下にしてください（{name} must be at most "
                f"{DATABASE_POOL_LIMIT}, not {value}）"
            )
    if low > high:
        raise SettingError(
            "MADOGUCHI_DATABASE_POOL_MIN は MADOGUCHI_DATABASE_POOL_MAX 以下にしてください"
            f"（MADOGUCHI_DATABASE_POOL_MIN must not exceed MADOGUCHI_DATABASE_POOL_MAX: {low} > {high}）"
        )
    return low, high


def env_list(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_networks(
    environ: Mapping[str, str], name: str = "MADOGUCHI_WEBHOOK_ALLOWED_NETWORKS"
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Private networks that webhooks may reach (comma-separated CIDRs, e.g. the LGWAN segment
    of the core systems), checked now. Loopback, link-local (cloud metadata at 169.254.169.254)
    and unspecified addresses are never allowed: no core system lives there, an attacker does."""
    networks = []
    for part in env_list(environ, name, []):
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise SettingError(
                f"{name} の {part!r} はネットワークではありません。10.20.0.0/16 のように"
                f" CIDR で指定してください（{name}: {part!r} is not a network in CIDR form）"
            ) from None
        forbidden = [
            ipaddress.ip_network(n)
            for n in (
                "127.0.0.0/8",
                "169.254.0.0/16",
                "0.0.0.0/8",
                "::1/128",
                "fe80::/10",
                "::/128",
            )
        ]
        if any(network.version == f.version and network.overlaps(f) for f in forbidden):
            raise SettingError(
                f"{name} の {part} はループバック・リンクローカルを含むため指定できません"
                f"（{name}: {part} includes loopback or link-local addresses, which are never allowed）"
            )
        networks.append(network)
    return networks


def env_metrics_networks(
    environ: Mapping[str, str], name: str = "MADOGUCHI_METRICS_NETWORKS"
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks whose addresses may read ``/metrics`` (comma-separated CIDRs, e.g. the
    monitoring server's ``10.0.5.7/32``), checked now. Loopback is allowed here: a Prometheus
    on the same host is the common case."""
    networks = []
    for part in env_list(environ, name, []):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingError(
                f"{name} の {part!r} はネットワークではありません。10.0.5.0/24 のように"
                f" CIDR で指定してください（{name}: {part!r} is not a network in CIDR form）"
            ) from None
    return networks


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


def env_fernet_keys(
    environ: Mapping[str, str], name: str = "MADOGUCHI_ENCRYPTION_KEYS"
) -> list[str]:
    """The Fernet keys (comma-separated, newest first), each one checked now: a key that is not
    a Fernet key (32 bytes, URL-safe base64) would otherwise fail only at the first encryption,
    in front of a resident. The error names the key by its position, never by its value."""
    keys = env_list(environ, name, [])
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise SettingError(
                f"{name} の {position} 番目の鍵は Fernet 鍵ではありません。"
                "Fernet.generate_key() で作った44文字の鍵を指定してください"
                f"（{name}: key number {position} is not a Fernet key, 32 bytes in URL-safe"
                " base64 as Fernet.generate_key() makes it）"
            ) from None
    return keys


#: A secret key must be at least this long, and look random (see ``secret_key_weakness``).
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 12
SECRET_KEY_MIN_BITS = 160
SECRET_KEY_MAX_RUN = 8


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` is not a usable secret key (English, for the refusal), or ``None``.

    Length alone says little: ``"ab" * 40`` or ``"0123456789" * 5`` is long. A key must have
    at least ``SECRET_KEY_MIN_DISTINCT`` different characters, no repeated block (at least 80 %
    of its three-character pieces are different), no run of ``SECRET_KEY_MAX_RUN`` neighbouring
    characters (``abcdefgh``, ``87654321``), and an estimated entropy (Shannon, from the characters' frequencies) of at
    least ``SECRET_KEY_MIN_BITS`` bits. Django's ``get_random_secret_key()`` and
    ``secrets.token_urlsafe(64)`` and ``openssl rand -hex 32`` pass; a phrase or a pattern does not.
    """
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        return f"it uses fewer than {SECRET_KEY_MIN_DISTINCT} different characters"
    pieces = [key[i : i + 3] for i in range(len(key) - 2)]
    if len(set(pieces)) < 0.8 * len(pieces):
        return "it repeats itself"
    run = longest = 1
    for before, here, after in zip(key, key[1:], key[2:], strict=False):
        step = ord(here) - ord(before)
        run = run + 1 if step in (-1, 1) and ord(after) - ord(here) == step else 1
        longest = max(longest, run)
    if longest + 1 >= SECRET_KEY_MAX_RUN:
        return "it runs through neighbouring characters (abc…, 123…)"
    counts = Counter(key)
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    if bits < SECRET_KEY_MIN_BITS:
        return f"its estimated entropy is below {SECRET_KEY_MIN_BITS} bits"
    return None


#: Everything the platform writes is for its own user only: files 0600, directories 0700.
OWNER_ONLY_UMASK = 0o077


def data_dir_prepare(data_dir: Path) -> None:
    """Make new files owner-only and create the data directory 0700, before anything is written.

    The umask applies to the whole process, so the SQLite database and its WAL/SHM files,
    keys, uploads and anything a library writes are created owner-only (they held personal
    data readable by every local user: the database was 0644). An existing directory owned
    by this user is tightened to 0700; ``madoguchi bootstrap`` tightens the files inside.
    """
    os.umask(OWNER_ONLY_UMASK)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = data_dir.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        data_dir.chmod(0o700)


def data_dir_tighten(data_dir: Path) -> int:
    """Make every file (0600) and directory (0700) under ``data_dir`` owner-only, as an
    installation made before this rule needs. Only entries owned by this user are changed
    (a clamd socket of another user is left alone); symbolic links are not followed.
    Returns how many entries were changed."""
    changed = 0
    for root, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            path = Path(root) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
                continue
            wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
            if stat.S_IMODE(info.st_mode) & 0o077:
                path.chmod((stat.S_IMODE(info.st_mode) & 0o700) | wanted)
                changed += 1
    return changed


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
    webhook_allow_private: bool = False
    smtp_url: str | None = None
    jpki_verify_url: str = ""
    portal_url: str | None = None
    #: Whether a real seal key is configured (MADOGUCHI_SEAL_DIR or _PKCS11_MODULE); None: not
    #: checked.
    seal_configured: bool | None = None
    #: MADOGUCHI_TSA_URL; None: not checked.
    tsa_url: str | None = None


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
    elif (weakness := secret_key_weakness(key)) is not None:
        problems.append(
            "MADOGUCHI_SECRET_KEY が短すぎるか単純すぎます。50文字以上のランダムな文字列にしてください"
            f"（MADOGUCHI_SECRET_KEY is too short or too simple: {weakness}; use 50 or more "
            "random characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'）。"
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
    if check.webhook_allow_private:
        problems.append(
            "本番では MADOGUCHI_WEBHOOK_ALLOW_PRIVATE を off にしてください。内部ネットワークへの "
            "Webhook 送信を許すと、団体管理者の設定ひとつで内部のサーバーに要求を送れてしまいます"
            "（MADOGUCHI_WEBHOOK_ALLOW_PRIVATE must be off in production: it turns the SSRF guard "
            "off, so a webhook could reach internal servers and cloud metadata）。"
            "閉じたネットワークの基幹系に送るときは MADOGUCHI_WEBHOOK_ALLOWED_NETWORKS でそのネットワークだけを"
            "許してください（to reach core systems on a closed network, list just their networks in"
            " MADOGUCHI_WEBHOOK_ALLOWED_NETWORKS）。"
        )
    if check.smtp_url is not None and not check.smtp_url.strip():
        problems.append(
            "本番では MADOGUCHI_SMTP_URL でメールサーバーを指定してください。未設定だとメールは標準出力に"
            "書き出され、パスワード再設定や招待のリンクがログに残ります（MADOGUCHI_SMTP_URL must be set "
            "in production: without it mail is printed to the console, and password-reset and "
            "invitation links would end up in the logs）。"
        )
    if check.jpki_verify_url and not check.jpki_verify_url.startswith("https://"):
        problems.append(
            "本番では MADOGUCHI_JPKI_VERIFY_URL に https:// の URL を指定してください（MADOGUCHI_JPKI_VERIFY_URL"
            " must be an https:// URL in production: certificates and signatures of residents are sent to it）。"
        )
    if check.portal_url is not None and not check.portal_url.startswith("https://"):
        problems.append(
            "本番では MADOGUCHI_PORTAL_URL に住民向けポータルの https:// の URL を指定してください。"
            "メールのリンク（マイページ・申請の状況）に使います（MADOGUCHI_PORTAL_URL must be the "
            "https:// address of the resident portal in production: every mail links to it）。"
        )
    if check.seal_configured is False:
        problems.append(
            "本番では団体の公印の鍵を MADOGUCHI_SEAL_DIR（鍵ファイル）または MADOGUCHI_SEAL_PKCS11_MODULE"
            "（HSM）で設定してください。試験用の公印CAは本番では使えません（MADOGUCHI_SEAL_DIR or "
            "MADOGUCHI_SEAL_PKCS11_MODULE must be set in production: the test seal CA is never used "
            "there, and without a seal no document can be issued）。"
        )
    if check.tsa_url is not None and not check.tsa_url.strip():
        problems.append(
            "本番では MADOGUCHI_TSA_URL にタイムスタンプ局（RFC 3161）の URL を指定してください。"
            "試験用のタイムスタンプ局は本番では使えません（MADOGUCHI_TSA_URL must be set in production:"
            " the in-process test timestamp authority is never used there）。"
        )
    return problems


def env_portal_url(environ: Mapping[str, str], name: str = "MADOGUCHI_PORTAL_URL") -> str:
    """The resident portal's public address (scheme and host, no path), for links in mail.

    Mail is sent from the outbox, often for a staff member's action in the console (which may
    run on another host), so links cannot be taken from the request. Default (development):
    ``http://127.0.0.1:8000``; ``make run`` sets it from ``PORT``.
    """
    raw = environ.get(name, "").strip() or "http://127.0.0.1:8000"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingError(
            f"{name} は https://ホスト の形で指定してください"
            f"（{name} must be an http(s) address such as https://madoguchi.example.jp, not {raw!r}）"
        )
    return raw.rstrip("/")


def env_jpki_verify_url(environ: Mapping[str, str], name: str = "MADOGUCHI_JPKI_VERIFY_URL") -> str:
    """The platform operator's JPKI verification API (http(s)://host/path), or "" for none."""
    raw = environ.get(name, "").strip()
    if raw:
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingError(
                f"{name} は https://ホスト/パス の形で指定してください"
                f"（{name} must be an http(s) URL such as https://verify.example.jp/v1/verify, not {raw!r}）"
            )
    return raw


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
