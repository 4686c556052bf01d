"""A load balancer asks whether the platform is alive (/healthz) and ready (/readyz)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from madoguchi import __version__
from madoguchi.core.time import now
from madoguchi.ops.models import WorkerHeartbeat
from madoguchi.ops.views import ready_cache_clear
from madoguchi.testing import free_port


def test_healthz_says_alive_without_touching_the_database(client):
    # No `db` fixture: pytest-django refuses any database access in this test.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


def test_the_favicon_browsers_ask_for_is_there(client, db):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    assert answer["Location"].endswith("favicon.svg")


# --- /readyz ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_readiness():
    """Each test sees a fresh check, not the one a previous test cached."""
    ready_cache_clear()
    yield
    ready_cache_clear()


@pytest.fixture
def beating(db):
    """The outbox worker ran one loop just now."""
    return WorkerHeartbeat.objects.create(name="outbox@test", host="test", pid=1, beat_at=now())


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_ready_when_every_component_answers(client, beating, data_dir, settings):
    settings.CLAMD = ""

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {key: c["status"] for key, c in body["components"].items()} == {
        "database": "ok",
        "storage": "ok",
        "worker": "ok",
        "scanner": "not_configured",
    }
    assert body["components"]["scanner"]["message"].startswith("ウイルス検査は設定されていません")
    # The probe file is gone again.
    assert [p for p in (data_dir / "files").rglob("*") if p.is_file()] == []


def test_a_stopped_worker_is_not_ready_and_says_how_long(client, beating, data_dir):
    WorkerHeartbeat.objects.filter(pk=beating.pk).update(beat_at=now() - timedelta(seconds=300))

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker"]
    worker = body["components"]["worker"]
    assert worker["code"] == "worker_stale"
    assert "送信ワーカー" in worker["message"]
    assert "30" in worker["message"]
    assert "送信ワーカー" in body["message"]


def test_a_worker_that_never_ran_is_not_ready(client, db, data_dir):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["components"]["worker"]["code"] == "worker_missing"


def test_storage_that_cannot_be_written_is_not_ready(client, beating, data_dir):
    # Where the files folder should be, a file: no write can succeed (whoever runs the test).
    (data_dir / "files").write_bytes(b"")

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["storage"]
    storage = body["components"]["storage"]
    assert storage["name"] == "ファイルの保存先"
    assert storage["code"] == "storage_unavailable"
    assert "ファイルの保存先を確認できませんでした" in storage["message"]


def test_a_scanner_that_does_not_answer_is_not_ready(client, beating, data_dir, settings):
    settings.CLAMD = f"tcp:127.0.0.1:{free_port()}"

    response = client.get("/readyz")

    assert response.status_code == 503
    scanner = response.json()["components"]["scanner"]
    assert scanner["code"] == "scanner_unavailable"
    assert "clamd" in scanner["message"]


def test_a_scanner_address_that_is_no_address_is_not_ready_never_a_500(
    client, beating, data_dir, settings
):
    settings.CLAMD = "nonsense"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["components"]["scanner"]["code"] == "scanner_unavailable"


def test_readyz_only_answers_get(client, db):
    assert client.post("/readyz").status_code == 405


def test_strangers_learn_only_ok_or_error_never_the_components(client, db, data_dir, settings):
    # A client /metrics refuses (here: production without a token or networks) sees no detail
    # of what failed (the worker never ran), only the status and the 503.
    settings.PRODUCTION = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_NETWORKS = []

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "error"}


def test_the_monitoring_server_with_the_token_sees_the_components(client, db, data_dir, settings):
    settings.PRODUCTION = True
    settings.METRICS_TOKEN = "s3cret-token"

    stranger = client.get("/readyz", REMOTE_ADDR="203.0.113.9")
    monitor = client.get(
        "/readyz", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token"
    )

    assert stranger.json() == {"status": "error"}
    assert monitor.status_code == 503
    assert monitor.json()["failing"]  # the worker never ran (and the components are named)
    assert set(monitor.json()["components"]) == {"database", "storage", "worker", "scanner"}


def test_a_flood_of_readiness_requests_checks_the_components_once(
    client, beating, data_dir, settings
):
    settings.CLAMD = ""
    assert client.get("/readyz").status_code == 200
    # The storage probe is not written again and the heartbeat not read again: the answer
    # comes from this process's recent check (READY_CACHE_SECONDS).
    (data_dir / "files").rename(data_dir / "files-away")
    (data_dir / "files").write_bytes(b"")
    WorkerHeartbeat.objects.all().delete()
    for _ in range(20):
        answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    ready_cache_clear()
    assert client.get("/readyz").status_code == 503


def test_the_outbox_worker_beats_each_loop(db, data_dir):
    from madoguchi.core.metrics import WORKER_HEARTBEAT

    call_command("outbox_worker", "--once")

    beat = WorkerHeartbeat.objects.get()
    assert beat.name.startswith("outbox@")
    assert (now() - beat.beat_at).total_seconds() < 300
    assert WORKER_HEARTBEAT._value.get() > 0
