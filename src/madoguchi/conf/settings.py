"""Django settings for Madoguchi.

Every value comes from the environment (``MADOGUCHI_*``) with a safe default; each one is
documented in the README and a test fails when one is not. ``MADOGUCHI_ENV=production``
refuses to start with unsafe values and says which.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from madoguchi.conf.env import (
    ProductionCheck,
    SettingError,
    data_dir_prepare,
    email_settings,
    env_bool,
    env_choice,
    env_clamd,
    env_database_pool,
    env_fernet_keys,
    env_int,
    env_jpki_verify_url,
    env_list,
    env_metrics_networks,
    env_networks,
    env_portal_url,
    env_rate,
    env_role,
    load_or_create_secret_key,
    production_problems,
    virus_scan_problems,
)
from madoguchi.conf.scale import replica_settings, s3_problems, storage_settings, tasks_settings

ENV = os.environ
BASE_DIR = Path(__file__).resolve().parent.parent  # src/madoguchi

try:
    MADOGUCHI_ENV = ENV.get("MADOGUCHI_ENV", "development").strip().lower()
    if MADOGUCHI_ENV not in {"development", "production", "test"}:
        raise SettingError(
            "MADOGUCHI_ENV は development、production、test のいずれかです"
            f"（MADOGUCHI_ENV must be development, production or test, not {MADOGUCHI_ENV!r}）"
        )
    PRODUCTION = MADOGUCHI_ENV == "production"
    DEBUG = env_bool(ENV, "MADOGUCHI_DEBUG", default=False)
    DATA_DIR = Path(ENV.get("MADOGUCHI_DATA_DIR", "var")).resolve()
    TLS = env_bool(ENV, "MADOGUCHI_TLS", default=PRODUCTION)
    HSTS_SECONDS = env_int(ENV, "MADOGUCHI_HSTS_SECONDS", default=31_536_000 if TLS else 0)
    ALLOWED_HOSTS = env_list(
        ENV, "MADOGUCHI_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
    )
    CSRF_TRUSTED_ORIGINS = env_list(ENV, "MADOGUCHI_CSRF_TRUSTED_ORIGINS", [])
    LOG_LEVEL = ENV.get("MADOGUCHI_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    SESSION_IDLE_SECONDS = env_int(ENV, "MADOGUCHI_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
    SESSION_MAX_SECONDS = env_int(ENV, "MADOGUCHI_SESSION_MAX_SECONDS", 8 * 3600, minimum=60)
    ENCRYPTION_KEYS = env_fernet_keys(ENV)
    EXTRA_FONTS = env_list(ENV, "MADOGUCHI_EXTRA_FONTS", [])
    # The largest PDF /verify/ examines (bytes); larger uploads are refused before parsing.
    VERIFY_MAX_BYTES = env_int(
        ENV, "MADOGUCHI_VERIFY_MAX_BYTES", default=20 * 1024 * 1024, minimum=1024
    )
    # The parsing of an uploaded PDF runs in a child process with these bounds.
    VERIFY_MEMORY_MB = env_int(ENV, "MADOGUCHI_VERIFY_MEMORY_MB", default=768, minimum=64)
    VERIFY_CPU_SECONDS = env_int(ENV, "MADOGUCHI_VERIFY_CPU_SECONDS", default=20, minimum=1)
    VERIFY_TIMEOUT_SECONDS = env_int(ENV, "MADOGUCHI_VERIFY_TIMEOUT_SECONDS", default=30, minimum=1)
    VERIFY_CONCURRENCY = env_int(ENV, "MADOGUCHI_VERIFY_CONCURRENCY", default=2, minimum=1)
    DEFAULT_FROM_EMAIL = ENV.get(
        "MADOGUCHI_MAIL_FROM", "窓口 電子申請 <no-reply@madoguchi.invalid>"
    )
    EMAIL_CONFIG = email_settings(ENV.get("MADOGUCHI_SMTP_URL", ""))
    # Where staff open the console (links in the mails staff get: new arrivals, sign-off
    # requests). The console may run on its own host (LGWAN), so it is not the portal's URL.
    CONSOLE_URL = ENV.get("MADOGUCHI_CONSOLE_URL", "").strip().rstrip("/") or (
        "" if PRODUCTION else "http://127.0.0.1:8000"
    )
    # clamd for uploads ("unix:/path" or "tcp:host:port"); empty: uploads are not virus-scanned.
    CLAMD = env_clamd(ENV)
    # The operator scans uploads elsewhere: production then starts without MADOGUCHI_CLAMD.
    VIRUS_SCAN_EXTERNAL = env_bool(ENV, "MADOGUCHI_VIRUS_SCAN_EXTERNAL", default=False)
    # The insert-only baseline of `make bench` (madoguchi.api.bench): never in production.
    BENCH_ENDPOINTS = env_bool(ENV, "MADOGUCHI_BENCH_ENDPOINTS", default=False)
    # Admission control (madoguchi.core.admission): requests the whole server works on at
    # once (every worker process of `madoguchi serve` together; per process without serve);
    # beyond it a short queue, then 503 with Retry-After. 0: off. `madoguchi serve` sets it
    # to --threads × --workers unless set.
    MAX_INFLIGHT = env_int(ENV, "MADOGUCHI_MAX_INFLIGHT", default=8)
    # How long a request beyond MAX_INFLIGHT waits for a slot before its 503 (milliseconds;
    # 0: refused at once), and how many may wait at once (beyond them: 503 at once).
    ADMISSION_QUEUE_MS = env_int(ENV, "MADOGUCHI_ADMISSION_QUEUE_MS", default=200)
    ADMISSION_QUEUE_MAX = env_int(ENV, "MADOGUCHI_ADMISSION_QUEUE_MAX", default=16)
    # Expensive endpoints (exports, /verify/ uploads, statistics downloads, searches, PDFs):
    # at most this many requests per client network per window ("most/seconds"; 0: no limit).
    CLIENT_LIMIT_EXPENSIVE = env_rate(ENV, "MADOGUCHI_CLIENT_LIMIT_EXPENSIVE", default=(60, 60))
    # What this process serves (三層の対策): portal (internet), console (LGWAN) or all.
    ROLE = env_role(ENV)
    # Log lines as JSON (one object a line, for a log collector) or plain text.
    LOG_FORMAT = env_choice(
        ENV, "MADOGUCHI_LOG_FORMAT", ("json", "plain"), "json" if PRODUCTION else "plain"
    )
    # Webhooks to loopback/private addresses (SSRF guard off): development and tests only.
    WEBHOOK_ALLOW_PRIVATE = env_bool(ENV, "MADOGUCHI_WEBHOOK_ALLOW_PRIVATE", default=False)
    # The private networks webhooks may reach in any mode (the core systems' LGWAN segment).
    WEBHOOK_ALLOWED_NETWORKS = env_networks(ENV)
    # /metrics (Prometheus): a bearer token and/or the networks that may read it. Neither set:
    # loopback only outside production, nobody (404) in production.
    METRICS_TOKEN = ENV.get("MADOGUCHI_METRICS_TOKEN", "").strip()
    METRICS_NETWORKS = env_metrics_networks(ENV)
    # JPKI signatures (level 3): a PEM bundle of the J-LIS signing CA certificates; outside
    # production the installation's test CA (DATA_DIR/jpki-test) is trusted as well.
    JPKI_TRUST_ANCHORS = ENV.get("MADOGUCHI_JPKI_TRUST_ANCHORS", "").strip()
    # The platform operator's verification API (revocation), and its bearer token.
    JPKI_VERIFY_URL = env_jpki_verify_url(ENV)
    PORTAL_URL = env_portal_url(ENV)
    JPKI_VERIFY_TOKEN = ENV.get("MADOGUCHI_JPKI_VERIFY_TOKEN", "").strip()
    # Passkeys (WebAuthn): the relying party ID (a registrable domain, e.g. "madoguchi.example.jp")
    # and the exact origins ("https://madoguchi.example.jp") the portal is served at. Empty: the
    # origin the request reached (its host already checked against ALLOWED_HOSTS) and its host.
    WEBAUTHN_RP_ID = ENV.get("MADOGUCHI_WEBAUTHN_RP_ID", "").strip().lower()
    WEBAUTHN_ORIGINS = env_list(ENV, "MADOGUCHI_WEBAUTHN_ORIGINS", [])
    # OpenID Connect relying party (identity.providers): the national authentication app
    # (デジタル認証アプリ) and gBizID. Unset: the demo identity provider stands in (not production).
    OIDC_TIMEOUT = env_int(ENV, "MADOGUCHI_OIDC_TIMEOUT", 10, minimum=1)
    OIDC_NATIONAL = {
        "issuer": ENV.get("MADOGUCHI_OIDC_NATIONAL_ISSUER", "").strip().rstrip("/"),
        "client_id": ENV.get("MADOGUCHI_OIDC_NATIONAL_CLIENT_ID", "").strip(),
        "private_key": ENV.get("MADOGUCHI_OIDC_NATIONAL_PRIVATE_KEY", "").strip(),
        "encryption_key": ENV.get("MADOGUCHI_OIDC_NATIONAL_ENCRYPTION_KEY", "").strip(),
        "acr_values": ENV.get("MADOGUCHI_OIDC_NATIONAL_ACR_VALUES", "aal3").strip(),
    }
    OIDC_GBIZID = {
        "issuer": ENV.get("MADOGUCHI_OIDC_GBIZID_ISSUER", "").strip().rstrip("/"),
        "client_id": ENV.get("MADOGUCHI_OIDC_GBIZID_CLIENT_ID", "").strip(),
        "private_key": ENV.get("MADOGUCHI_OIDC_GBIZID_PRIVATE_KEY", "").strip(),
    }
    # The organisation's electronic seal (documents.seal): key files per organisation
    # (MADOGUCHI_SEAL_DIR/<lg_code>/{key.pem,cert.pem,chain.pem}, or default/), or an HSM through
    # PKCS#11. Neither set: the installation's test seal CA (never in production).
    SEAL_DIR = ENV.get("MADOGUCHI_SEAL_DIR", "").strip()
    SEAL_KEY_PASSPHRASE_FILE = ENV.get("MADOGUCHI_SEAL_KEY_PASSPHRASE_FILE", "").strip()
    SEAL_PKCS11_MODULE = ENV.get("MADOGUCHI_SEAL_PKCS11_MODULE", "").strip()
    SEAL_PKCS11_TOKEN = ENV.get("MADOGUCHI_SEAL_PKCS11_TOKEN", "").strip()
    SEAL_PKCS11_KEY_LABEL = (
        ENV.get("MADOGUCHI_SEAL_PKCS11_KEY_LABEL", "").strip() or "madoguchi-seal-{lg_code}"
    )
    SEAL_PKCS11_PIN_FILE = ENV.get("MADOGUCHI_SEAL_PKCS11_PIN_FILE", "").strip()
    # PEM bundle of the roots of the platform's own seals (verification says "issued here").
    SEAL_TRUST_ROOTS = ENV.get("MADOGUCHI_SEAL_TRUST_ROOTS", "").strip()
    # B-LTA: archival timestamps are added this many days before a timestamp's TSA certificate
    # expires (documents.archive).
    SEAL_ARCHIVE_MARGIN_DAYS = env_int(ENV, "MADOGUCHI_SEAL_ARCHIVE_MARGIN_DAYS", 180, minimum=1)
    # The RFC 3161 timestamp authority (HTTP); unset: the in-process test TSA (not production).
    TSA_URL = ENV.get("MADOGUCHI_TSA_URL", "").strip()
    TSA_USERNAME = ENV.get("MADOGUCHI_TSA_USERNAME", "").strip()
    TSA_PASSWORD_FILE = ENV.get("MADOGUCHI_TSA_PASSWORD_FILE", "").strip()
    TSA_TIMEOUT = env_int(ENV, "MADOGUCHI_TSA_TIMEOUT", 10, minimum=1)
    # PEM bundle of the TSA's root CA(s), when they are not among the seal's roots.
    TSA_TRUST_ROOTS = ENV.get("MADOGUCHI_TSA_TRUST_ROOTS", "").strip()
    # The key file of `madoguchi backup` (made by `madoguchi backup keygen`), kept apart from
    # the backups and from the data directory.
    BACKUP_KEY_FILE = ENV.get("MADOGUCHI_BACKUP_KEY_FILE", "").strip()
    # The demo identity provider at /demo-idp/ (logs in and signs with test cards): never in
    # production, whatever this says.
    DEMO_IDP = not PRODUCTION and env_bool(ENV, "MADOGUCHI_DEMO_IDP", default=True)
except SettingError as error:
    raise ImproperlyConfigured(str(error)) from None

_secret_from_env = ENV.get("MADOGUCHI_SECRET_KEY") or None
_database_url = ENV.get("MADOGUCHI_DATABASE_URL") or None
# PostgreSQL: the role that owns the tables (migrations, backups). The application itself
# connects with MADOGUCHI_DATABASE_URL, as a role that row-level security applies to; unset,
# both are the same URL (development, tests).
DATABASE_OWNER_URL = (ENV.get("MADOGUCHI_DATABASE_OWNER_URL") or "").strip() or _database_url or ""

if PRODUCTION:
    _problems = (
        production_problems(
            ProductionCheck(
                debug=DEBUG,
                secret_key_from_env=_secret_from_env,
                allowed_hosts=ALLOWED_HOSTS,
                tls=TLS,
                database_url=_database_url,
                encryption_keys=ENCRYPTION_KEYS,
                bench_endpoints=BENCH_ENDPOINTS,
                webhook_allow_private=WEBHOOK_ALLOW_PRIVATE,
                smtp_url=ENV.get("MADOGUCHI_SMTP_URL", ""),
                jpki_verify_url=JPKI_VERIFY_URL,
                portal_url=PORTAL_URL if ENV.get("MADOGUCHI_PORTAL_URL", "").strip() else "",
                seal_configured=bool(SEAL_DIR or SEAL_PKCS11_MODULE),
                tsa_url=TSA_URL,
            )
        )
        + virus_scan_problems(clamd=CLAMD, external=VIRUS_SCAN_EXTERNAL)
        + s3_problems(ENV)
    )
    if _problems:
        raise ImproperlyConfigured(
            "安全でない設定のため、本番モードでは起動しません"
            " (Madoguchi refuses to start in production with unsafe settings):\n- "
            + "\n- ".join(_problems)
        )

# Owner-only from here on: the database, keys, uploads and demo logins (files 0600, dirs 0700).
data_dir_prepare(DATA_DIR)
SECRET_KEY = _secret_from_env or load_or_create_secret_key(DATA_DIR)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django_tasks_db",
    # django-ninja as an app: /api/v1/docs then renders Swagger UI from ninja's own static
    # files (swagger-ui-bundle.js + an external init script) instead of a CDN page with an
    # inline script, so the docs work under our CSP (script-src 'self', no 'unsafe-inline').
    "ninja",
    "madoguchi.core",
    "madoguchi.tenants",
    "madoguchi.identity",
    "madoguchi.audit",
    "madoguchi.forms",
    "madoguchi.documents",
    "madoguchi.notifications",
    "madoguchi.catalog",
    "madoguchi.applications",
    "madoguchi.reservations",
    "madoguchi.stats",
    "madoguchi.integrations",
    "madoguchi.ops",
    "madoguchi.portal",
    "madoguchi.console",
    "madoguchi.api",
    "madoguchi.demo_idp",
]

MIDDLEWARE = [
    # The request id (X-Request-ID) and the access line: outermost, so refusals are logged too.
    "madoguchi.core.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "madoguchi.core.admission.AdmissionControlMiddleware",
    # Counts requests by route name and times them (/metrics); no database access.
    "madoguchi.ops.metrics.HttpMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "madoguchi.core.middleware.JapaneseOnlyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Read-your-writes with a replica: after a write, this browser reads from the primary.
    "madoguchi.core.replica.ReplicaStickinessMiddleware",
    # MADOGUCHI_ROLE: 404 for another role's paths, no staff session on the portal.
    "madoguchi.ops.roles.RoleMiddleware",
    # Per-client limit on expensive endpoints (exports, PDFs, /verify/ uploads, statistics).
    "madoguchi.core.admission.ExpensiveEndpointLimitMiddleware",
    "madoguchi.identity.middleware.SessionTimeoutMiddleware",
    # PostgreSQL row-level security: which organisations this request may see (core.tenancy).
    "madoguchi.identity.middleware.TenantScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # A lost or refused database connection in a view: 503 with Retry-After, not a 500
    # (handler500 in conf.urls does the same for the middlewares above).
    "madoguchi.core.dbguard.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "madoguchi.conf.urls"
WSGI_APPLICATION = "madoguchi.conf.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# The embedded default is SQLite in the data directory. WAL lets readers work while one writer
# commits; synchronous=FULL makes a commit durable on power loss (an application's arrival is
# the commit that stores it, so "probably on disk" is not good enough).
_SQLITE_INIT = "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA foreign_keys=ON;"


def _database(url: str | None) -> dict[str, Any]:
    if not url:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DATA_DIR / 'madoguchi.sqlite3'}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    except ValueError as error:
        raise ImproperlyConfigured(f"MADOGUCHI_DATABASE_URL cannot be used: {error}") from None
    engine = config["ENGINE"]
    options: dict[str, Any] = dict(config.get("OPTIONS") or {})
    if engine == "django.db.backends.sqlite3":
        options.setdefault("init_command", _SQLITE_INIT)
        # Writers wait for each other instead of failing with "database is locked".
        options.setdefault("timeout", 20)
        options.setdefault("transaction_mode", "IMMEDIATE")
        # Tests run on a file, not in memory: shared-cache memory databases answer "table is
        # locked" instead of waiting, which is not how the embedded default behaves.
        config.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test_madoguchi.sqlite3")
    elif engine == "django.db.backends.postgresql":
        config["ENGINE"] = "django.db.backends.postgresql"
        options.setdefault("application_name", "madoguchi")
        if DATABASE_POOL is not None:
            # psycopg's pool (Django closes a request's connection back into it): the pool
            # checks a connection when it takes it back, so no request pays a `SELECT 1`;
            # Django requires CONN_MAX_AGE 0 with a pool.
            config["CONN_MAX_AGE"] = 0
            config["CONN_HEALTH_CHECKS"] = False
            options["pool"] = {"min_size": DATABASE_POOL[0], "max_size": DATABASE_POOL[1]}
        else:
            config["CONN_MAX_AGE"] = 60
            config["CONN_HEALTH_CHECKS"] = True
    config["OPTIONS"] = options
    config.setdefault("TEST", {})
    return config


try:
    #: PostgreSQL's connection pool per server process: (min, max), or None (max 0: no pool,
    #: one persistent connection per thread, as behind PgBouncer).
    DATABASE_POOL = env_database_pool(ENV)
except SettingError as error:
    raise ImproperlyConfigured(str(error)) from None
DATABASES = {"default": _database(_database_url)}
# With a separate owner role (PostgreSQL row-level security): the alias "owner", which
# `madoguchi db_app_role` uses and whose settings `madoguchi migrate` (and `bootstrap`) put under
# "default" while migrating; the application never uses it. In tests it mirrors "default".
if (
    DATABASE_OWNER_URL
    and _database_url != DATABASE_OWNER_URL
    and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
):
    DATABASES["owner"] = _database(DATABASE_OWNER_URL)
    DATABASES["owner"]["CONN_MAX_AGE"] = 0
    DATABASES["owner"]["TEST"] = {"MIRROR": "default"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Scaling out (conf.scale): tasks on Redis, files on object storage, a read replica -------
try:
    # Django's Tasks API: in the database (the outbox worker is the worker, nothing is enqueued
    # from requests) or, with MADOGUCHI_TASKS_URL, on Redis (django-tasks-rq; `madoguchi
    # rqworker` runs them, `madoguchi serve` starts it).
    TASKS_URL, TASKS, RQ_QUEUES = tasks_settings(ENV)
    _default_storage = storage_settings(ENV)
    DATABASE_REPLICA_URL, REPLICA_STICKY_SECONDS, REPLICA_MAX_LAG_SECONDS = replica_settings(ENV)
except SettingError as error:
    raise ImproperlyConfigured(str(error)) from None
if TASKS_URL:
    INSTALLED_APPS.append("django_rq")
if DATABASE_REPLICA_URL:
    # Only the views that ask for it read here (core.replica.replica_reads); tests mirror it.
    DATABASES["replica"] = _database(DATABASE_REPLICA_URL)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["madoguchi.core.replica.ReplicaRouter"]

# --- Identity --------------------------------------------------------------------------------
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sessions, cookies and transport security -----------------------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = SESSION_MAX_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = TLS
CSRF_COOKIE_SECURE = TLS
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = TLS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TLS else None
SECURE_HSTS_SECONDS = HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = TLS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

from django.utils.csp import CSP  # noqa: E402  (settings-only import)

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# --- Language and time -----------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# whitenoise looks here too (collectstatic for production); it must exist to avoid a warning.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    # Uploads and other stored files: DATA_DIR/files, written crash-safe and owner-only. Domain
    # code reaches them only through storages["default"]: object storage is a setting away.
    # MADOGUCHI_S3_BUCKET: a private bucket on S3-compatible object storage (conf.scale).
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploads through STORAGES are owner-only, whatever the process umask.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Static files are served from the package directly: no collectstatic step for `make run`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Logging ---------------------------------------------------------------------------------
# Personal data never goes into logs: we log ids and codes, never answers or names; the
# handler's filters add the request id and redact what looks like a My Number or an e-mail
# address, whatever logger it came from (madoguchi.core.logs).
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "madoguchi.core.logs.ContextFilter"},
        "redact": {"()": "madoguchi.core.logs.RedactFilter"},
    },
    "formatters": {
        "plain": {"()": "madoguchi.core.logs.PlainFormatter"},
        "json": {"()": "madoguchi.core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (mail_admins, the debug console) replaced by the root's.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "INFO"},
    },
}

NINJA_PAGINATION_PER_PAGE = 50

# --- Mail ---------------------------------------------------------------------------------
# Without MADOGUCHI_SMTP_URL, mail is printed to the console (make run); with it, sent by SMTP.
MAILERS = {"default": EMAIL_CONFIG}
SERVER_EMAIL = DEFAULT_FROM_EMAIL
