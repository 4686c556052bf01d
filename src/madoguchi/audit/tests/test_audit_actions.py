"""Audit actions are one closed list: a misspelt or second name for an act is refused by the
service and by the database, so the console's audit search finds every event of an act."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import audit_record
from madoguchi.core.time import now


def test_an_unknown_action_is_refused_before_anything_is_written(organisation):
    with pytest.raises(ValueError, match=r"application\.view"):
        audit_record(action="application.view", now=now(), organisation=organisation)

    assert not AuditEvent.objects.exists()


def test_the_database_refuses_an_action_outside_the_list(organisation):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(
            occurred_at=now(), organisation=organisation, action="application.view", detail={}
        )


def test_viewing_an_application_has_one_name():
    values = set(AuditAction.values)

    assert "application.viewed" in values
    assert "application.view" not in values
    assert len(values) == len(AuditAction.values)


def test_a_known_action_is_stored_by_its_value(organisation):
    event = audit_record(
        action=AuditAction.APPLICATION_VIEWED, now=now(), organisation=organisation
    )

    assert AuditEvent.objects.get(pk=event.pk).action == "application.viewed"
