"""Health checks for load balancers and ``make run``; the favicon browsers ask for.

``/healthz`` says the process is alive (it touches nothing else: a database outage must not
make a load balancer restart healthy servers). ``/readyz`` says whether this installation can
serve now: the database, the file storage, the outbox worker's heartbeat and the virus scanner.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from madoguchi import __version__
from madoguchi.applications.virus import ScannerUnavailable, clamd_address_parse, clamd_command
from madoguchi.core.tenancy import rls_problems_everywhere
from madoguchi.core.time import now
from madoguchi.ops.metrics import metrics_allowed
from madoguchi.ops.models import WorkerHeartbeat

#: The outbox worker beats once a loop (every few seconds); older than this, it is not running.
HEARTBEAT_STALE_SECONDS: Final = 60
#: clamd must answer PING within this.
CLAMD_TIMEOUT_SECONDS: Final = 2.0
#: ``/readyz`` answers from one check of the components per process for this long: a flood of
#: requests costs one storage write/delete, one set of queries and one clamd PING per process.
READY_CACHE_SECONDS: Final = 5.0


@dataclass(frozen=True)
class Check:
    """One component's answer: ``ok`` / ``error`` / ``not_configured``, a code, and what an
    operator reads (Japanese)."""

    status: str
    code: str
    message: str

    def as_json(self, ms: float) -> dict[str, str]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "ms": f"{ms:.1f}",
        }


def _database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    if settings.PRODUCTION and (problems := rls_problems_everywhere()):
        # Checked at start-up too (conf.wsgi); here it catches a grant changed since then.
        # The read replica too, when configured: its role reads the same tenant rows.
        return Check(
            "error",
            "database_rls",
            "データベースの行レベルセキュリティが効いていません: " + "；".join(problems),
        )
    return Check("ok", "ok", f"データベースに接続できます（{connection.vendor}）。")


def _storage() -> Check:
    storage = storages["default"]
    payload = uuid.uuid4().bytes
    name = storage.save(f"ops/readyz/{uuid.uuid4().hex}.probe", ContentFile(payload))
    try:
        with storage.open(name, "rb") as handle:
            read = handle.read()
    finally:
        storage.delete(name)
    if read != payload:
        return Check(
            "error",
            "storage_mismatch",
            "ファイルの保存先に書いた内容を、同じように読み出せませんでした。",
        )
    return Check("ok", "ok", "ファイルの保存先に書き込み・読み出し・削除ができます。")


def _worker() -> Check:
    beat = WorkerHeartbeat.objects.order_by("-beat_at").first()
    if beat is None:
        return Check(
            "error",
            "worker_missing",
            "送信ワーカー（outbox_worker）が一度も動いていません。"
            "メールや Webhook が送られません。",
        )
    age = (now() - beat.beat_at).total_seconds()
    if age > HEARTBEAT_STALE_SECONDS:
        return Check(
            "error",
            "worker_stale",
            f"送信ワーカー（outbox_worker）の最後の動作確認から {int(age)} 秒たっています"
            f"（{HEARTBEAT_STALE_SECONDS} 秒以内のはずです）。止まっていないか確認してください。",
        )
    return Check("ok", "ok", f"送信ワーカーが動いています（{int(age)} 秒前に確認）。")


def _scanner() -> Check:
    configured = str(getattr(settings, "CLAMD", "") or "")
    if not configured:
        return Check(
            "not_configured",
            "not_configured",
            "ウイルス検査は設定されていません（添付ファイルは「未検査」として保存されます）。",
        )
    try:
        answer = clamd_command(
            address=clamd_address_parse(configured),
            command="PING",
            timeout=CLAMD_TIMEOUT_SECONDS,
        )
    except (ScannerUnavailable, ValueError):
        answer = ""
    if answer != "PONG":
        return Check(
            "error",
            "scanner_unavailable",
            "ウイルス検査（clamd）に接続できません。添付ファイルの受け付けをお断りしています。",
        )
    return Check("ok", "ok", "ウイルス検査（clamd）が応答しています。")


_COMPONENTS: Final[dict[str, tuple[str, Callable[[], Check]]]] = {
    "database": ("データベース", _database),
    "storage": ("ファイルの保存先", _storage),
    "worker": ("送信ワーカー", _worker),
    "scanner": ("ウイルス検査", _scanner),
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: 200 with the version, without touching the database or anything else."""
    return JsonResponse({"status": "ok", "version": __version__})


_ready_lock = threading.Lock()
_ready_cache: tuple[float, dict[str, dict[str, str]], list[str]] | None = None


def _check_components() -> tuple[dict[str, dict[str, str]], list[str]]:
    results: dict[str, dict[str, str]] = {}
    failing: list[str] = []
    for key, (label, check) in _COMPONENTS.items():
        if key == "worker" and "database" in failing:
            # The heartbeat is in the database: no second wait for a database that is away.
            result = Check(
                "error",
                "database_unavailable",
                "データベースに接続できないため、送信ワーカーを確認できません。",
            )
            results[key] = {"name": label, **result.as_json(0.0)}
            failing.append(key)
            continue
        started = time.perf_counter()
        try:
            result = check()
        except Exception as error:  # any failure of a component is its answer, never a 500
            result = Check(
                "error",
                f"{key}_unavailable",
                f"{label}を確認できませんでした（{type(error).__name__}）。",
            )
        results[key] = {"name": label, **result.as_json((time.perf_counter() - started) * 1000)}
        if result.status == "error":
            failing.append(key)
    return results, failing


def _components() -> tuple[dict[str, dict[str, str]], list[str]]:
    """The components' answers, checked at most once per :data:`READY_CACHE_SECONDS` in this
    process (concurrent requests wait for the one check under way)."""
    global _ready_cache
    with _ready_lock:
        cached = _ready_cache
        if cached is not None and time.monotonic() - cached[0] < READY_CACHE_SECONDS:
            return cached[1], cached[2]
        results, failing = _check_components()
        _ready_cache = (time.monotonic(), results, failing)
        return results, failing


def ready_cache_clear() -> None:
    """Forget the cached answers (tests; the next request checks again)."""
    global _ready_cache
    with _ready_lock:
        _ready_cache = None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: 200 when every component answers, else 503. Never a 500: a check that
    raises is that component's error. The components are checked at most once every
    :data:`READY_CACHE_SECONDS` per process. Only a caller allowed to read ``/metrics``
    (:func:`~madoguchi.ops.metrics.metrics_allowed`) sees the version and the components (in
    Japanese, with a code); anyone else gets just ``{"status": "ok"|"error"}``."""
    results, failing = _components()
    status = 503 if failing else 200
    body: dict[str, object] = {"status": "ok" if not failing else "error"}
    if metrics_allowed(request):
        body["version"] = __version__
        body["components"] = results
        if failing:
            names = "、".join(results[key]["name"] for key in failing)
            body["message"] = f"利用できない部分があります: {names}"
            body["failing"] = failing
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico whatever the page links: the platform's icon, not a 404."""
    return HttpResponsePermanentRedirect(static("madoguchi/favicon.svg"))
