"""Settings for scaling out (規模を広げる): tasks on Redis, files on S3-compatible object
storage, a read replica. Each is off unless its ``MADOGUCHI_*`` setting is given; kept apart
from ``settings`` so that the parsing and the production checks can be unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from madoguchi.conf.env import SettingError, env_bool, env_int

#: Redis must answer quickly or not at all: a request that enqueues a task after commit waits
#: at most this long (seconds) for the connection and for each answer.
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_SOCKET_TIMEOUT = 1.0


def redis_url_with_timeouts(url: str) -> str:
    """``url`` with short socket timeouts added (kept when the URL names its own)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_connect_timeout", str(REDIS_CONNECT_TIMEOUT))
    query.setdefault("socket_timeout", str(REDIS_SOCKET_TIMEOUT))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tasks_settings(environ: Mapping[str, str]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(TASKS_URL, TASKS, RQ_QUEUES)``: Django Tasks on Redis (django-tasks-rq) when
    ``MADOGUCHI_TASKS_URL`` is a ``redis://`` or ``rediss://`` URL, else in the database."""
    url = environ.get("MADOGUCHI_TASKS_URL", "").strip()
    if not url:
        return "", {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}, {}
    if urlsplit(url).scheme not in {"redis", "rediss"}:
        raise SettingError(
            "MADOGUCHI_TASKS_URL は redis:// または rediss:// で始まる URL です"
            "（MADOGUCHI_TASKS_URL must be a redis:// or rediss:// URL）"
        )
    queues = {"default": {"URL": redis_url_with_timeouts(url), "DEFAULT_TIMEOUT": 300}}
    return url, {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}, queues


def _secret(environ: Mapping[str, str], name: str) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (the file wins)."""
    path = environ.get(f"{name}_FILE", "").strip()
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SettingError(
                f"{name}_FILE を読めません（cannot read {name}_FILE: {error.strerror}）"
            ) from None
    return environ.get(name, "").strip()


def storage_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """``STORAGES["default"]``: ``DATA_DIR/files`` (the embedded default) or, when
    ``MADOGUCHI_S3_BUCKET`` is set, a private bucket on S3-compatible object storage."""
    bucket = environ.get("MADOGUCHI_S3_BUCKET", "").strip()
    if not bucket:
        return {"BACKEND": "madoguchi.core.storage.DataDirStorage"}
    style = environ.get("MADOGUCHI_S3_ADDRESSING_STYLE", "auto").strip().lower() or "auto"
    if style not in {"auto", "path", "virtual"}:
        raise SettingError(
            "MADOGUCHI_S3_ADDRESSING_STYLE は auto、path、virtual のいずれかです"
            "（MADOGUCHI_S3_ADDRESSING_STYLE must be auto, path or virtual）"
        )
    encryption = environ.get("MADOGUCHI_S3_SERVER_SIDE_ENCRYPTION", "").strip()
    if encryption not in {"", "AES256", "aws:kms"}:
        raise SettingError(
            "MADOGUCHI_S3_SERVER_SIDE_ENCRYPTION は空、AES256、aws:kms のいずれかです"
            "（MADOGUCHI_S3_SERVER_SIDE_ENCRYPTION must be empty, AES256 or aws:kms）"
        )
    timeout = env_int(environ, "MADOGUCHI_S3_TIMEOUT", 10, minimum=1)
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": environ.get("MADOGUCHI_S3_ENDPOINT_URL", "").strip() or None,
        "region_name": environ.get("MADOGUCHI_S3_REGION", "").strip() or None,
        "access_key": environ.get("MADOGUCHI_S3_ACCESS_KEY_ID", "").strip() or None,
        "secret_key": _secret(environ, "MADOGUCHI_S3_SECRET_ACCESS_KEY") or None,
        "addressing_style": None if style == "auto" else style,
        # Private objects: no public ACL, no public URLs; downloads go through the app.
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
        "object_parameters": ({"ServerSideEncryption": encryption} if encryption else {}),
        "location": environ.get("MADOGUCHI_S3_PREFIX", "").strip().strip("/"),
        "timeout": timeout,
    }
    return {"BACKEND": "madoguchi.core.storage.ObjectStorage", "OPTIONS": options}


def s3_problems(environ: Mapping[str, str]) -> list[str]:
    """Production: object storage only over TLS, unless explicitly allowed."""
    endpoint = environ.get("MADOGUCHI_S3_ENDPOINT_URL", "").strip()
    if not environ.get("MADOGUCHI_S3_BUCKET", "").strip() or not endpoint:
        return []
    if urlsplit(endpoint).scheme == "https":
        return []
    if env_bool(environ, "MADOGUCHI_S3_ALLOW_INSECURE", default=False):
        return []
    return [
        "MADOGUCHI_S3_ENDPOINT_URL は https:// にしてください。暗号化しない接続を使う場合は "
        "MADOGUCHI_S3_ALLOW_INSECURE=on を明示してください（MADOGUCHI_S3_ENDPOINT_URL must be "
        "https:// in production, or set MADOGUCHI_S3_ALLOW_INSECURE=on explicitly）。"
    ]


def replica_settings(environ: Mapping[str, str]) -> tuple[str, int, int]:
    """``(replica URL, sticky seconds, max lag seconds)``; the URL is empty without a replica."""
    url = environ.get("MADOGUCHI_DATABASE_REPLICA_URL", "").strip()
    sticky = env_int(environ, "MADOGUCHI_REPLICA_STICKY_SECONDS", 10, minimum=0)
    lag = env_int(environ, "MADOGUCHI_REPLICA_MAX_LAG_SECONDS", 5, minimum=0)
    return url, sticky, lag
