"""Fixtures named after the actors of the design notes.

The organisation master is loaded once per test session into the test database (it is
read-only reference data for most tests); each test still runs in its own transaction, so a
test that changes the master (a merger) leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.services import organisation_master_load

STAFF_PASSWORD = "correct horse battery staple 42"  # noqa: S105 (test-only)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        organisation_master_load(now=now())


@pytest.fixture
def organisation(db: None) -> Organisation:
    """横浜市 (141003)."""
    return Organisation.objects.get(lg_code="141003")


@pytest.fixture
def other_organisation(db: None) -> Organisation:
    """鎌倉市 (142042)."""
    return Organisation.objects.get(lg_code="142042")


@pytest.fixture
def staff_member(organisation: Organisation) -> Staff:
    return staff_upsert(
        organisation=organisation,
        email="reviewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
        display_name="審査 一郎",
    )


@pytest.fixture
def other_staff(other_organisation: Organisation) -> Staff:
    return staff_upsert(
        organisation=other_organisation,
        email="reviewer@kamakura.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
        display_name="審査 花子",
    )


@pytest.fixture
def staff_client(client: Client, staff_member: Staff) -> Client:
    client.force_login(staff_member.user)
    return client
