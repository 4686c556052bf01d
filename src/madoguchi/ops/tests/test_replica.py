"""A read replica (MADOGUCHI_DATABASE_REPLICA_URL): the read-heavy pages read there, nothing
else does; a browser that just wrote reads the primary for a while (read-your-writes); a
replica that lags or does not answer is skipped, counted, and the page still works.

The replica here is a second connection to the test database (as Django's TEST MIRROR), so
what these tests prove is where each query goes, watched on each connection."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import signing
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from madoguchi.conf.scale import replica_settings
from madoguchi.core.metrics import REPLICA_FALLBACKS, REPLICA_LAG
from madoguchi.core.replica import (
    _STICKY_SALT,
    POSTGRESQL_LAG_QUERY,
    STICKY_COOKIE,
    replica_lag_forget,
    replica_reads,
)
from madoguchi.testing import free_port

INBOX = "console:inbox"


pytestmark = pytest.mark.django_db(databases=["default", "replica"])


def _replace_replica(config: dict[str, Any] | None) -> None:
    if "replica" in connections.settings:
        connections["replica"].close()
        del connections["replica"]
        del connections.settings["replica"]
    if config is not None:
        connections.settings["replica"] = config
    replica_lag_forget()


def _mirror() -> dict[str, Any]:
    config = copy.deepcopy(connections["default"].settings_dict)
    config["TEST"] = {"MIRROR": "default"}
    # A reader: the test's atomic block on it must not take SQLite's write lock (IMMEDIATE).
    config["OPTIONS"] = {k: v for k, v in config["OPTIONS"].items() if k != "transaction_mode"}
    return config


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup: None) -> Iterator[None]:
    """The ``replica`` alias for this module's tests (a test's databases are checked against
    the aliases there are when it starts): another connection to the test database."""
    _replace_replica(_mirror())
    yield
    _replace_replica(None)


@pytest.fixture
def replica() -> Iterator[Any]:
    replica_lag_forget()
    yield connections["replica"]
    replica_lag_forget()


@pytest.fixture
def replica_away() -> Iterator[None]:
    """A replica that does not answer: a closed port (PostgreSQL), a missing folder (SQLite).
    Its connection stands in for this test only (the test's own one is put back after)."""
    config = _mirror()
    if connection.vendor == "postgresql":
        config.update(HOST="127.0.0.1", PORT=str(free_port()))
        # Without the pool: Django keeps one pool per alias for the whole process, so a pooled
        # stand-in would borrow the real replica's connections instead of trying the port.
        options = {k: v for k, v in config["OPTIONS"].items() if k != "pool"}
        config["OPTIONS"] = {**options, "connect_timeout": 2}
    else:
        config["NAME"] = "/nonexistent-madoguchi-replica/replica.sqlite3"
    mirror = connections.settings["replica"]
    connections.settings["replica"] = config
    away = connections.create_connection("replica")
    connections.settings["replica"] = mirror
    kept = connections["replica"]
    connections["replica"] = away
    replica_lag_forget()
    yield
    away.close()
    connections["replica"] = kept
    replica_lag_forget()


@pytest.fixture
def no_replica() -> Iterator[None]:
    mirror = connections.settings.pop("replica")
    yield
    connections.settings["replica"] = mirror


def fallbacks(reason: str) -> float:
    return float(REPLICA_FALLBACKS.labels(reason=reason)._value.get())


def application_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "applications_application" in q["sql"]]


def test_the_inbox_reads_the_replica_and_the_session_the_primary(staff_client, replica):
    with (
        CaptureQueriesContext(replica) as on_replica,
        CaptureQueriesContext(connection) as on_primary,
    ):
        response = staff_client.get(reverse(INBOX))

    assert response.status_code == 200
    assert application_reads(on_replica)
    assert not application_reads(on_primary)
    # Who is asking (session, staff) was read on the primary, before the view.
    assert any("django_session" in q["sql"] for q in on_primary.captured_queries)
    assert not any("django_session" in q["sql"] for q in on_replica.captured_queries)


def test_outside_replica_reads_nothing_reads_the_replica(replica):
    from madoguchi.applications.models import Application

    with CaptureQueriesContext(replica) as on_replica:
        list(Application.objects.all())
        with replica_reads() as used:
            list(Application.objects.all())

    assert used
    assert len(application_reads(on_replica)) == 1


def test_after_a_write_the_same_browser_reads_the_primary(staff_client, replica):
    wrote = staff_client.post(reverse("console:applications_bulk"), {"action": "assign"})
    assert wrote.status_code < 400
    assert STICKY_COOKIE in wrote.cookies

    with CaptureQueriesContext(replica) as on_replica:
        response = staff_client.get(reverse(INBOX))

    assert response.status_code == 200
    assert not application_reads(on_replica)


def test_a_forged_or_expired_stickiness_cookie_is_ignored(staff_client, replica):
    for value in ("forged", signing.dumps(time.time() - 60, salt=_STICKY_SALT)):
        staff_client.cookies[STICKY_COOKIE] = value
        with CaptureQueriesContext(replica) as on_replica:
            assert staff_client.get(reverse(INBOX)).status_code == 200
        assert application_reads(on_replica)
        replica_lag_forget()


def test_a_replica_that_does_not_answer_is_skipped_and_counted(staff_client, replica_away):
    before = fallbacks("unreachable")

    response = staff_client.get(reverse(INBOX))

    assert response.status_code == 200
    assert fallbacks("unreachable") == before + 1


def test_a_replica_that_lags_is_skipped_and_counted(staff_client, replica, settings):
    # The lag reading comes from the replica itself, through the checker's own query.
    settings.REPLICA_LAG_QUERY = "SELECT 3600"
    settings.REPLICA_MAX_LAG_SECONDS = 5
    before = fallbacks("lag")

    with CaptureQueriesContext(replica) as on_replica:
        response = staff_client.get(reverse(INBOX))

    assert response.status_code == 200
    assert not application_reads(on_replica)
    # (On PostgreSQL the replica connection also gets the request's row-level-security scope.)
    assert [q["sql"] for q in on_replica.captured_queries if "set_config" not in q["sql"]] == [
        "SELECT 3600"
    ]
    assert fallbacks("lag") == before + 1
    assert REPLICA_LAG._value.get() == 3600


def test_the_lag_is_read_once_for_a_few_seconds(staff_client, replica):
    with CaptureQueriesContext(replica) as on_replica:
        staff_client.get(reverse(INBOX))
        staff_client.get(reverse(INBOX))

    checks = [q for q in on_replica.captured_queries if q["sql"].startswith("SELECT 0")]
    assert len(checks) <= 1


def test_postgresql_lag_query_answers_zero_on_a_primary(replica):
    if connection.vendor != "postgresql":
        pytest.skip("the lag query is PostgreSQL's")
    with replica.cursor() as cursor:
        cursor.execute(POSTGRESQL_LAG_QUERY)
        assert float(cursor.fetchone()[0]) == 0


def test_without_a_replica_the_pages_read_the_primary(staff_client, no_replica):
    assert "replica" not in connections.settings
    with CaptureQueriesContext(connection) as on_primary:
        assert staff_client.get(reverse(INBOX)).status_code == 200
    assert application_reads(on_primary)


def test_replica_settings_are_read_with_defaults():
    assert replica_settings({}) == ("", 10, 5)
    url = "postgres://madoguchi@replica.internal/madoguchi"
    assert replica_settings(
        {
            "MADOGUCHI_DATABASE_REPLICA_URL": url,
            "MADOGUCHI_REPLICA_STICKY_SECONDS": "30",
            "MADOGUCHI_REPLICA_MAX_LAG_SECONDS": "2",
        }
    ) == (url, 30, 2)


def test_the_statistics_api_reads_the_replica(client, replica):
    with CaptureQueriesContext(replica) as on_replica:
        response = client.get("/api/v1/statistics/organisations/141003/")

    assert response.status_code == 200, response.content
    assert any("FROM" in q["sql"] for q in on_replica.captured_queries)
