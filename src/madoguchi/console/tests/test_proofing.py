"""Identity proofing recorded by staff: the resident's code, the counter page, image proofing
from an application, revocation, and what it does to the resident's levels."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.assurance import identity_current
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import IdentityProofing, ProofingCode, ResidentProfile
from madoguchi.identity.proofing import (
    LOOKUP_MAX_FAILURES_STAFF,
    ProofingRefused,
    account_proofing,
    documents_clean,
    identity_proofing_record,
    proofing_code_issue,
)
from madoguchi.testing import console_login, resident_create, staff_create

COUNTER = "/console/counter/identity/"
RECORD = "/console/counter/identity/record/"
GOOD: dict[str, Any] = {
    "documents": ["drivers_licence"],
    "name": "山田　花子",
    "address": "神奈川県横浜市中区港町1-1",
    "birth_date": "1990-04-01",
}


@pytest.fixture
def hanako(db: None) -> Any:
    user = resident_create("hanako@example.jp", verified=True)
    ResidentProfile.objects.create(
        user=user,
        family_name="山田",
        given_name="花子",
        family_name_kana="ヤマダ",
        given_name_kana="ハナコ",
        address="横浜市中区港町1-1",
        birth_date=date(1990, 4, 1),
    )
    return user


def ial_of(user: Any) -> int:
    identity = identity_current(user=user, session=None)
    assert identity is not None
    return identity.ial


def resident_code(user: Any) -> str:
    """The code as the resident's page shows it."""
    client = Client()
    client.force_login(user)
    page = client.post("/account/identity/").content.decode()
    match = re.search(r'<strong class="secret" lang="en">([A-Z0-9-]+)</strong>', page)
    assert match, page
    return match.group(1)


def test_the_document_rule_one_photo_id_or_two_without():
    assert documents_clean(["my_number_card"]) == ["my_number_card"]
    assert documents_clean(["health_insurance", "pension_book"]) == [
        "health_insurance",
        "pension_book",
    ]
    for bad in ([], ["health_insurance"], ["passport", "no-such-document"], "x", None, [1]):
        with pytest.raises(ProofingRefused):
            documents_clean(bad)


def test_counter_staff_find_the_resident_by_code_and_record_level_2(hanako, staff_client):
    assert ial_of(hanako) == 1
    code = resident_code(hanako)
    found = staff_client.post(COUNTER, {"code": code.lower().replace("-", " ")})
    assert found.status_code == 200
    text = found.content.decode()
    assert "山田 花子" in text or "山田　花子" in text
    assert "1990年4月1日" in text
    recorded = staff_client.post(RECORD, {"code": code, **GOOD})
    assert recorded.status_code == 302
    proofing = IdentityProofing.objects.get(user=hanako)
    assert proofing.method == "counter_proofing"
    assert proofing.documents == ["drivers_licence"]
    assert proofing.birth_date == date(1990, 4, 1)
    identity = identity_current(user=hanako, session=None)
    assert identity is not None
    assert (identity.ial, identity.aal) == (2, 1)
    assert "窓口で本人確認書類を確認" in identity.method_labels()
    assert identity.attributes is not None
    assert identity.attributes.address == GOOD["address"]
    # The code records once.
    again = staff_client.post(RECORD, {"code": code, **GOOD})
    assert again.status_code == 422
    assert IdentityProofing.objects.count() == 1
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "proofing.looked_up" in actions
    assert "proofing.recorded" in actions
    # The resident sees it on their page.
    client = Client()
    client.force_login(hanako)
    page = client.get("/account/identity/").content.decode()
    assert "身元確認</dt><dd>レベル2（窓口で本人確認書類を確認）" in page
    assert "横浜市" in page


@pytest.mark.parametrize(
    "change",
    [
        {"documents": ["health_insurance"]},
        {"documents": ["no-such"]},
        {"name": ""},
        {"address": "あ" * 300},
        {"birth_date": "2999-01-01"},
        {"birth_date": "令和"},
        {"birth_date": "1990-02-30"},
        {"code": "\x00" * 10},
        {"code": "AAAA-AAAA"},
    ],
)
def test_bad_input_is_refused_in_japanese_and_records_nothing(hanako, staff_client, change):
    code = resident_code(hanako)
    posted = {"code": code, **GOOD, **change}
    response = staff_client.post(RECORD, posted)
    assert response.status_code in (422, 200), response.status_code
    assert response.status_code != 500
    assert not IdentityProofing.objects.exists()
    assert "を" in response.content.decode()


def test_an_expired_code_is_unknown(hanako, staff_member):
    code, _ = proofing_code_issue(user=hanako, now=now() - timedelta(minutes=31))
    with pytest.raises(ProofingRefused):
        identity_proofing_record(
            staff=staff_member, method="counter_proofing", code=code, now=now(), **GOOD
        )


def test_a_new_code_replaces_the_old_one(hanako, staff_member):
    old, _ = proofing_code_issue(user=hanako, now=now())
    new, _ = proofing_code_issue(user=hanako, now=now())
    with pytest.raises(ProofingRefused):
        identity_proofing_record(
            staff=staff_member, method="counter_proofing", code=old, now=now(), **GOOD
        )
    identity_proofing_record(
        staff=staff_member, method="counter_proofing", code=new, now=now(), **GOOD
    )
    assert ProofingCode.objects.filter(used_at__isnull=True).count() == 0


def test_failed_lookups_are_limited_per_staff_member(hanako, staff_client):
    for _ in range(LOOKUP_MAX_FAILURES_STAFF):
        assert staff_client.post(COUNTER, {"code": "ZZZZ-ZZZZ"}).status_code == 422
    code = resident_code(hanako)
    response = staff_client.post(COUNTER, {"code": code})
    assert response.status_code == 429
    assert "しばらく照会できません" in response.content.decode()
    assert AuditEvent.objects.filter(action="proofing.lookup_failed").count() == (
        LOOKUP_MAX_FAILURES_STAFF
    )


def test_a_viewer_cannot_use_the_counter_page(hanako, organisation):
    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    client = console_login(Client(), viewer.user)
    assert client.get(COUNTER).status_code == 403
    assert client.post(COUNTER, {"code": resident_code(hanako)}).status_code == 403


def test_a_staff_accounts_code_finds_nobody(staff_member, other_staff, staff_client):
    # Staff cannot reach the resident page, and a code row for them would not count either.
    code, _ = proofing_code_issue(user=other_staff.user, now=now())
    assert staff_client.post(COUNTER, {"code": code}).status_code == 422


def test_revocation_by_the_recording_organisation_only(hanako, staff_member, other_admin):
    code, _ = proofing_code_issue(user=hanako, now=now())
    record = identity_proofing_record(
        staff=staff_member, method="counter_proofing", code=code, now=now(), **GOOD
    )
    other = console_login(Client(), other_admin.user)
    url = f"/console/counter/identity/{record.pk}/revoke/"
    assert other.post(url, {"reason": "誤り"}).status_code == 404
    assert account_proofing(hanako) is not None
    mine = console_login(Client(), staff_member.user)
    no_reason = mine.post(url, {"reason": " "})
    assert no_reason.status_code == 422
    assert account_proofing(hanako) is not None
    assert mine.post(url, {"reason": "書類の確認に誤りがありました"}).status_code == 302
    assert account_proofing(hanako) is None
    assert ial_of(hanako) == 1
    event = AuditEvent.objects.get(action="proofing.revoked")
    assert event.reason == "書類の確認に誤りがありました"
    assert mine.post(url, {"reason": "もう一度"}).status_code == 404


def test_an_expired_proofing_no_longer_counts(hanako, staff_member):
    code, _ = proofing_code_issue(user=hanako, now=now())
    identity_proofing_record(
        staff=staff_member,
        method="counter_proofing",
        code=code,
        now=now(),
        valid_until=now() + timedelta(days=1),
        **GOOD,
    )
    assert account_proofing(hanako) is not None
    assert account_proofing(hanako, now=now() + timedelta(days=2)) is None


def test_image_proofing_from_an_application(staff_client, staff_member, procedure, other_admin):
    from madoguchi.applications.services import application_submit, new_idempotency_key
    from madoguchi.testing import valid_answers

    applicant = resident_create("applicant@example.jp", verified=True)
    application = application_submit(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=applicant,
        answers=valid_answers(procedure),
        idempotency_key=new_idempotency_key(),
        now=now(),
    ).application
    url = f"/console/applications/{application.pk}/proofing/"
    assert staff_client.get(url).status_code == 200
    refused = staff_client.post(url, {**GOOD, "documents": ["pension_book"]})
    assert refused.status_code == 422
    assert "2点" in refused.content.decode()
    assert staff_client.post(url, GOOD).status_code == 302
    record = IdentityProofing.objects.get(user=applicant)
    assert record.method == "image_proofing"
    assert record.application_id == application.pk
    assert ial_of(applicant) == 2
    other = console_login(Client(), other_admin.user)
    assert other.get(url).status_code == 404
    assert other.post(url, GOOD).status_code == 404
    assert IdentityProofing.objects.count() == 1


def test_failed_lookups_are_limited_per_client_address(organisation):
    from madoguchi.identity.proofing import LOOKUP_MAX_FAILURES_ADDRESS, proofing_code_lookup

    address = "203.0.113.9"
    members = [
        staff_create(organisation, email=f"counter{i}@yokohama.test", role=StaffRole.REVIEWER)
        for i in range(LOOKUP_MAX_FAILURES_ADDRESS // LOOKUP_MAX_FAILURES_STAFF + 1)
    ]
    failures = 0
    for member in members[:-1]:
        for _ in range(LOOKUP_MAX_FAILURES_STAFF):
            with pytest.raises(ProofingRefused) as refused:
                proofing_code_lookup(staff=member, code="ZZZZZZZZ", address=address, now=now())
            assert refused.value.status == 422
            failures += 1
    assert failures == LOOKUP_MAX_FAILURES_ADDRESS
    with pytest.raises(ProofingRefused) as refused:
        proofing_code_lookup(staff=members[-1], code="ZZZZZZZZ", address=address, now=now())
    assert refused.value.status == 429
    # Another address is not affected.
    with pytest.raises(ProofingRefused) as refused:
        proofing_code_lookup(staff=members[-1], code="ZZZZZZZZ", address="198.51.100.1", now=now())
    assert refused.value.status == 422
