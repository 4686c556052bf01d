"""How a procedure is counted: its national template's default, or the organisation's own
choice (one service, audited); hostile choices change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.stats.models import ProcedureClassification
from madoguchi.stats.selectors import procedure_categories, procedure_classification_rows
from madoguchi.stats.services import ClassificationError, procedure_classify
from madoguchi.testing import procedure_publish, staff_create


def _classify(organisation: Any, procedure: Any, code: object, actor: Any) -> Any:
    return procedure_classify(
        organisation=organisation, procedure=procedure, category_code=code, actor=actor, now=now()
    )


def test_procedures_are_counted_under_their_templates_default(organisation, other_organisation):
    hoiku = procedure_publish(organisation, "hoiku-moushikomi")
    risai = procedure_publish(organisation, "risai-shomei")
    juminhyo = procedure_publish(organisation, "juminhyo")
    elsewhere = procedure_publish(other_organisation, "event-moushikomi")

    assert procedure_categories(organisation_ids=[organisation.pk]) == {
        hoiku.pk: "childcare-application",
        risai.pk: "disaster-certificate",
    }
    assert juminhyo.pk not in procedure_categories()
    assert procedure_categories()[elsewhere.pk] == "event-application"


def test_the_organisations_own_choice_wins_and_is_audited(organisation, admin_staff):
    juminhyo = procedure_publish(organisation, "juminhyo")
    risai = procedure_publish(organisation, "risai-shomei")

    stored = _classify(organisation, juminhyo, "facility-reservation", admin_staff.user)
    _classify(organisation, risai, "", admin_staff.user)

    assert stored is not None
    assert stored.category_code == "facility-reservation"
    assert stored.set_by == admin_staff.user
    assert procedure_categories(organisation_ids=[organisation.pk]) == {
        juminhyo.pk: "facility-reservation"
    }
    events = AuditEvent.objects.filter(action="procedure.classified").order_by("pk")
    assert [(e.target_id, e.detail) for e in events] == [
        (str(juminhyo.pk), {"before": None, "after": "facility-reservation"}),
        (str(risai.pk), {"before": None, "after": ""}),
    ]
    assert all(e.organisation_id == organisation.pk for e in events)

    rows = {
        row.procedure.pk: row for row in procedure_classification_rows(organisation=organisation)
    }
    assert rows[juminhyo.pk].own_choice
    assert rows[juminhyo.pk].default is None
    assert rows[juminhyo.pk].counted_as is not None
    assert rows[risai.pk].own_choice
    assert rows[risai.pk].counted_as is None
    default = rows[risai.pk].default
    assert default is not None
    assert default.code == "disaster-certificate"

    # Back to the template's default: the own row goes, the default counts again.
    assert _classify(organisation, risai, None, admin_staff.user) is None
    assert not ProcedureClassification.objects.filter(procedure=risai).exists()
    assert procedure_categories()[risai.pk] == "disaster-certificate"
    last = AuditEvent.objects.filter(action="procedure.classified").latest("pk")
    assert last.detail == {"before": "", "after": None}

    # A code stored earlier that no list names any more is not counted, and shown as such.
    ProcedureClassification.objects.filter(procedure=juminhyo).update(category_code="gone-code")
    assert juminhyo.pk not in procedure_categories()
    row = procedure_classification_rows(organisation=organisation, procedure_id=juminhyo.pk)[0]
    assert row.unknown_code == "gone-code"
    assert row.counted_as is None


@pytest.mark.parametrize(
    "code",
    [
        "no-such-category",
        "LIBRARY RESERVATION",
        "library-reservation'; drop table stats_procedureclassification; --",
        "図書館の図書貸出予約等",
        "ｌｉｂｒａｒｙ－ｒｅｓｅｒｖａｔｉｏｎ",
        "x" * 5000,
        "\x00",
        123,
        ["library-reservation"],
        {"code": "library-reservation"},
    ],
)
def test_hostile_codes_are_refused_in_japanese_and_change_nothing(organisation, admin_staff, code):
    procedure = procedure_publish(organisation, "risai-shomei")
    _classify(organisation, procedure, "eltax-filing", admin_staff.user)
    events = AuditEvent.objects.count()

    with pytest.raises(ClassificationError) as refused:
        _classify(organisation, procedure, code, admin_staff.user)

    assert "一覧" in refused.value.message
    assert ProcedureClassification.objects.get(procedure=procedure).category_code == "eltax-filing"
    assert AuditEvent.objects.count() == events


def test_another_organisations_procedure_is_not_found(
    organisation, other_organisation, admin_staff
):
    theirs = procedure_publish(other_organisation, "risai-shomei")

    with pytest.raises(Procedure.DoesNotExist):
        _classify(organisation, theirs, "eltax-filing", admin_staff.user)
    # Naming their organisation does not help a staff member of another one.
    with pytest.raises(ClassificationError, match="団体管理者"):
        _classify(other_organisation, theirs, "eltax-filing", admin_staff.user)
    assert not ProcedureClassification.objects.exists()
    assert not AuditEvent.objects.filter(action="procedure.classified").exists()


@pytest.mark.parametrize("role", [StaffRole.REVIEWER, StaffRole.VIEWER])
def test_only_an_admin_may_classify(organisation, role):
    procedure = procedure_publish(organisation, "risai-shomei")
    member = staff_create(organisation, email=f"{role}@yokohama.test", role=role)

    with pytest.raises(ClassificationError, match="団体管理者だけ"):
        _classify(organisation, procedure, "eltax-filing", member.user)
    assert not ProcedureClassification.objects.exists()


def test_a_disabled_admin_may_not_classify(organisation, admin_staff):
    procedure = procedure_publish(organisation, "risai-shomei")
    admin_staff.active = False
    admin_staff.save(update_fields=["active"])

    with pytest.raises(ClassificationError):
        _classify(organisation, procedure, "", admin_staff.user)
    assert not ProcedureClassification.objects.exists()
