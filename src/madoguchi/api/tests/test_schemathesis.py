"""Property-based check of the whole HTTP API against its own OpenAPI document (schemathesis).

Every operation in ``/api/v1/openapi.json`` is called in-process through the WSGI app (no
network) with inputs generated from the schema — valid and invalid — as a staff token of an
organisation: no input may give a server error. The number of
examples is bounded so that the run stays well under a minute; CI runs it with ``make test``.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from madoguchi.testing import staff_token

EXAMPLES = 25


#: Read from the running app, as a client would, when the tests are collected.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # As Django's test client does: a request must not close the connection that holds the
    # test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def staff_headers(admin_staff):
    """A read and write token of the organisation's admin (the applications themselves are
    covered by the story tests)."""
    return {"Authorization": f"Bearer {staff_token(admin_staff)}"}


@pytest.fixture
def resident_headers(organisation):
    """A resident with an approved 利用者登録 and a facility with open slots: the reservation
    operations are exercised past authentication and registration, into the booking rules."""
    from madoguchi.core.time import now
    from madoguchi.identity.tokens import access_token_create
    from madoguchi.reservations.testing import (
        facility_make,
        next_weekday,
        registration_make,
        slots_make,
    )
    from madoguchi.testing import resident_create

    user = resident_create("schema@example.jp", verified=True)
    registration_make(organisation, user)
    slots_make(facility_make(organisation), next_weekday())
    token = access_token_create(user=user, name="schema", scopes=["applications"], now=now())[1]
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gives_a_server_error(case, staff_headers, resident_headers):
    # The token goes to every operation: the resident API refuses it (403) and the public
    # ones ignore it, so each operation is exercised past authentication where it can be.
    # The reservations are a resident's: they get a resident's token.
    headers = dict(case.headers or {})
    resident = case.operation.path.startswith("/api/v1/reservations")
    chosen = resident_headers if resident else staff_headers
    headers.setdefault("Authorization", chosen["Authorization"])
    case.headers = headers
    case.call_and_validate(checks=[not_a_server_error])
