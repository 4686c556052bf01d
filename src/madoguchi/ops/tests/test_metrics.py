"""/metrics: only the monitoring server reads it, and it shows what really happened."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import console_log_in, submit, valid_answers

TOKEN = "s3cret-metrics-token-for-tests"


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


# --- who may read it -----------------------------------------------------------------------


def test_loopback_reads_it_when_nothing_is_configured(client, db):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_anyone_else_gets_404_when_nothing_is_configured(client, db):
    for address in ("10.0.0.5", "192.0.2.1", "2001:db8::1", "not-an-address", ""):
        assert client.get("/metrics", REMOTE_ADDR=address).status_code == 404


def test_production_answers_404_even_to_loopback_without_a_token_or_networks(client, db, settings):
    settings.PRODUCTION = True

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_the_token_must_be_right(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.PRODUCTION = True

    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="10.1.2.3")
    lowercase = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}", REMOTE_ADDR="10.1.2.3")

    assert right.status_code == lowercase.status_code == 200
    for header in (
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer " + "x" * 10000,
        "Bearer トークン",
    ):
        extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
        # Loopback does not stand in for a token once one is set.
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra).status_code == 404


def test_the_networks_must_hold_the_client(client, db, settings):
    settings.METRICS_NETWORKS = [ipaddress.ip_network("10.0.5.0/24")]
    settings.PRODUCTION = True

    assert client.get("/metrics", REMOTE_ADDR="10.0.5.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.0.5.7").status_code == 200
    for address in ("10.0.6.7", "127.0.0.1", "2001:db8::1", "garbage"):
        assert client.get("/metrics", REMOTE_ADDR=address).status_code == 404


def test_with_a_token_and_networks_both_must_hold(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_NETWORKS = [ipaddress.ip_network("10.0.5.0/24")]
    bearer = f"Bearer {TOKEN}"

    assert (
        client.get("/metrics", REMOTE_ADDR="10.0.5.7", HTTP_AUTHORIZATION=bearer).status_code == 200
    )
    assert (
        client.get("/metrics", REMOTE_ADDR="10.0.9.7", HTTP_AUTHORIZATION=bearer).status_code == 404
    )
    assert client.get("/metrics", REMOTE_ADDR="10.0.5.7").status_code == 404


def test_a_refusal_looks_like_any_missing_page(client, db):
    refused = client.get("/metrics", REMOTE_ADDR="192.0.2.1")
    missing = client.get("/no-such-page", REMOTE_ADDR="192.0.2.1")

    assert refused.status_code == missing.status_code == 404
    assert refused["Content-Type"] == missing["Content-Type"]
    assert b"madoguchi_" not in refused.content


def test_the_networks_setting_is_checked_at_start():
    from madoguchi.conf.env import SettingError, env_metrics_networks

    assert env_metrics_networks({"MADOGUCHI_METRICS_NETWORKS": "10.0.0.0/8, ::1/128"}) == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    ]
    with pytest.raises(SettingError, match="CIDR"):
        env_metrics_networks({"MADOGUCHI_METRICS_NETWORKS": "10.0.0.0/8,監視サーバー"})


def test_metrics_only_answers_get(client, db):
    assert client.post("/metrics").status_code == 405


# --- what it shows -------------------------------------------------------------------------


def test_requests_are_counted_by_route_name_never_by_path(client, db):
    home = {"method": "GET", "route": "portal:index", "status": "200"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before_home = value("madoguchi_http_requests_total", home)
    before_unmatched = value("madoguchi_http_requests_total", unmatched)

    client.get("/")
    client.get("/no-such-page/%E4%BD%8F%E6%89%80")
    client.get("/another/missing/page")
    text = scrape(client)

    assert value("madoguchi_http_requests_total", home) == before_home + 1
    assert value("madoguchi_http_requests_total", unmatched) == before_unmatched + 2
    assert 'route="portal:index"' in text
    assert "no-such-page" not in text
    assert "another" not in text
    assert "madoguchi_http_request_duration_seconds_bucket" in text


def test_a_submission_is_counted_with_its_organisation_once_committed(
    procedure, resident, django_capture_on_commit_callbacks
):
    labels = {"organisation": "141003", "channel": "online"}
    before = value("madoguchi_submissions_total", labels)

    with django_capture_on_commit_callbacks(execute=True):
        submit(procedure, resident, valid_answers(procedure))

    assert value("madoguchi_submissions_total", labels) == before + 1
    assert 'madoguchi_submissions_total{channel="online",organisation="141003"}' in scrape(Client())


def test_a_failed_login_is_counted_by_kind(
    client, staff_member, django_capture_on_commit_callbacks
):
    before = value("madoguchi_login_failures_total", {"kind": "console"})

    with django_capture_on_commit_callbacks(execute=True):
        console_log_in(client, "reviewer@yokohama.test", "wrong password")
        console_log_in(client, "nobody@yokohama.test", "wrong password")

    assert value("madoguchi_login_failures_total", {"kind": "console"}) == before + 2
    assert 'madoguchi_login_failures_total{kind="console"}' in scrape(client)


def test_a_wrong_api_token_is_counted(client, db):
    before = value("madoguchi_login_failures_total", {"kind": "api_token"})

    response = client.get(
        "/api/v1/staff/applications/", HTTP_AUTHORIZATION="Bearer mdg_not_a_real_token"
    )

    assert response.status_code == 401
    assert value("madoguchi_login_failures_total", {"kind": "api_token"}) == before + 1


def test_the_outbox_backlog_is_read_from_the_database(client, db):
    moment = now()
    OutboxMessage.objects.create(
        created_at=moment - timedelta(minutes=10),
        available_at=moment,
        topic=OutboxMessage.Topic.EMAIL,
        payload={"to": "x@example.jp", "subject": "s", "body": "b"},
        attempts=2,
    )

    text = scrape(client)

    assert 'madoguchi_outbox_pending{kind="mail"} 1.0' in text
    assert 'madoguchi_outbox_failed{kind="mail"} 1.0' in text
    assert 'madoguchi_outbox_pending{kind="webhook"} 0.0' in text
    age = next(
        line
        for line in text.splitlines()
        if line.startswith('madoguchi_outbox_oldest_age_seconds{kind="mail"}')
    )
    assert 590 <= float(age.split()[-1]) < 3600
    assert "madoguchi_database_up 1.0" in text
    assert "madoguchi_tasks_pending 0.0" in text
    assert "madoguchi_worker_heartbeat_age_seconds -1.0" in text
    assert "x@example.jp" not in text


# --- several processes ---------------------------------------------------------------------

CHILD = """
import sys
from madoguchi.core.metrics import SUBMISSIONS
SUBMISSIONS.labels("141003", "online").inc(int(sys.argv[1]))
"""


def test_the_counts_of_several_processes_are_added_up(client, db, tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", CHILD, count], env=environ, check=True, timeout=60)
    assert len(list(Path(folder).glob("counter_*.db"))) == 2

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    text = scrape(client)

    assert 'madoguchi_submissions_total{channel="online",organisation="141003"} 5.0' in text
    assert "madoguchi_database_up 1.0" in text


def test_serve_starts_with_an_empty_metrics_folder(tmp_path):
    from madoguchi.ops.management.commands.serve import metrics_folder_prepare

    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1234.db").write_bytes(b"old")

    assert metrics_folder_prepare(tmp_path) == folder
    assert list(folder.iterdir()) == []


def test_a_second_server_on_the_same_data_directory_leaves_the_first_ones_files_alone(tmp_path):
    """The README's own topology: the portal and the console on one data directory. Each
    start emptied ``<data>/metrics/`` and rewrote ``run/admission``, wiping the other's."""
    from madoguchi.core.admission import SlotCounter, admission_file_prepare
    from madoguchi.ops.management.commands.serve import metrics_folder_prepare, server_run_folder

    portal = server_run_folder(tmp_path, role="portal", port=8000)
    portal_metrics = metrics_folder_prepare(portal)
    (portal_metrics / "counter_1234.db").write_bytes(b"the portal's counts")
    counter = SlotCounter(admission_file_prepare(portal))
    assert counter.try_acquire(5) == "in"

    console = server_run_folder(tmp_path, role="console", port=8001)
    assert console != portal
    metrics_folder_prepare(console)
    admission_file_prepare(console)

    assert (portal_metrics / "counter_1234.db").read_bytes() == b"the portal's counts"
    assert counter.totals() == (1, 0)
    assert list((console / "metrics").iterdir()) == []


# --- the domain's counts, where they happen ------------------------------------------------


def test_the_kind_of_a_failed_login():
    from madoguchi.identity.models import User
    from madoguchi.identity.throttle import login_failure_kind

    operator = User(email="root@platform.test", is_staff=True)
    staff = User(email="staff@yokohama.test")

    assert login_failure_kind(stage="password", user=staff, portal="console") == "console"
    assert login_failure_kind(stage="password", user=None, portal="console") == "console"
    assert login_failure_kind(stage="password", user=operator, portal="console") == "operator"
    assert login_failure_kind(stage="totp", user=staff, portal="console") == "second_factor"
    assert login_failure_kind(stage="recovery", user=operator, portal="console") == "second_factor"
    assert login_failure_kind(stage="resident", user=None, portal="portal") == "resident"


def test_a_rate_limit_refusal_is_counted_by_the_limits_name(db):
    from madoguchi.core.ratelimit import window_admit

    labels = {"limit": "verify.lookup"}
    before = value("madoguchi_rate_limited_total", labels)
    key = "madoguchi.verify.lookup." + "ab" * 16

    assert window_admit(checks=[(key, (1, 60))], now=now()) is None
    assert window_admit(checks=[(key, (1, 60))], now=now()) is not None

    assert value("madoguchi_rate_limited_total", labels) == before + 1


def test_a_scanner_that_does_not_answer_is_counted_as_unavailable():
    from madoguchi.applications.virus import ScannerUnavailable, clamd_address_parse, clamd_scan
    from madoguchi.testing import free_port

    before = value("madoguchi_virus_scans_total", {"result": "unavailable"})

    with pytest.raises(ScannerUnavailable):
        clamd_scan(
            address=clamd_address_parse(f"tcp:127.0.0.1:{free_port()}"), data=b"x", timeout=1
        )

    assert value("madoguchi_virus_scans_total", {"result": "unavailable"}) == before + 1


def test_mail_sent_from_the_outbox_is_counted(db, smtp_server):
    from madoguchi.notifications.services import outbox_deliver_email

    moment = now()
    OutboxMessage.objects.create(
        created_at=moment,
        available_at=moment,
        topic=OutboxMessage.Topic.EMAIL,
        payload={"to": "x@example.jp", "subject": "件名", "body": "本文"},
    )
    before = value("madoguchi_mail_deliveries_total", {"result": "sent"})

    report = outbox_deliver_email(now=moment)

    assert report.delivered == 1
    assert value("madoguchi_mail_deliveries_total", {"result": "sent"}) == before + 1
