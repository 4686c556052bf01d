"""The 使用許可書 is an issued document: registered and verifiable on its first download, the
same bytes afterwards, reissued (the old one superseded) when what it says changes, and
withdrawn when its booking ends — whoever ends it."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.documents.models import Document, RegisterEntry
from madoguchi.reservations.constants import BookingStatus, PaymentStatus
from madoguchi.reservations.models import Booking, Facility
from madoguchi.reservations.permits import booking_permit_issue
from madoguchi.reservations.services import booking_confirm, booking_hold
from madoguchi.reservations.staff import (
    booking_no_show,
    booking_override,
    booking_payment_record,
)
from madoguchi.reservations.testing import (
    facility_make,
    next_weekday,
    registration_make,
    slot_of,
    slots_make,
)
from madoguchi.testing import resident_create


@pytest.fixture
def day():
    return next_weekday()


@pytest.fixture
def facility(organisation, day):
    facility = facility_make(organisation, rules="飲食はできません。")
    slots_make(facility, day)
    return facility


def _person(organisation, email):
    user = resident_create(email, verified=True)
    return user, registration_make(organisation, user)


@pytest.fixture
def hanako(organisation):
    return _person(organisation, "hanako@example.jp")


@pytest.fixture
def taro(organisation):
    return _person(organisation, "taro@example.jp")


@pytest.fixture
def booking(organisation, facility, day, hanako):
    """Hanako's confirmed booking of テニスコート1 (2,000円, unpaid)."""
    user, registration = hanako
    held = booking_hold(
        organisation=organisation,
        slot_id=slot_of(facility, "テニスコート1", day).pk,
        registration=registration,
        user=user,
        identity=None,
    ).booking
    return booking_confirm(organisation=organisation, booking_id=held.pk, user=user)


def _url(booking):
    return f"/account/reservations/{booking.pk}/permit.pdf"


def _permits(booking):
    return list(
        Document.objects.filter(
            kind=DocumentKind.PERMIT, source_key__startswith=f"booking:{booking.pk}:permit:"
        ).order_by("pk")
    )


def _text(pdf: bytes) -> str:
    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(pdf)).pages
    return "".join(page.extract_text() for page in pages).replace(" ", "").replace("\n", "")


def test_first_download_issues_one_registered_permit_and_the_second_returns_the_same_bytes(
    client, organisation, booking, hanako
):
    client.force_login(hanako[0])
    first = client.get(_url(booking))
    assert first.status_code == 200
    assert first["Content-Type"] == "application/pdf"
    [permit] = _permits(booking)
    assert permit.organisation == organisation
    assert permit.status == DocumentStatus.VALID
    assert permit.number == booking.number  # 許可番号 = 予約番号, no number of a series
    assert permit.series is None
    assert permit.name == "使用許可書"  # as printed; the title keeps the booking number
    assert permit.issuer == f"{organisation.name}長"
    assert first.content == bytes(permit.pdf)
    assert permit.sha256 == hashlib.sha256(first.content).hexdigest()
    entry = RegisterEntry.objects.get(document=permit)
    assert (entry.organisation, entry.sha256) == (organisation, permit.sha256)
    text = _text(first.content)
    for expected in (permit.code, f"/verify/{permit.code}", f"{organisation.name}長", "未納"):
        assert expected in text, expected

    again = client.get(_url(booking))
    assert again.status_code == 200
    assert again.content == first.content
    assert _permits(booking) == [permit]
    assert RegisterEntry.objects.filter(organisation=organisation).count() == 1


def test_a_recorded_payment_makes_the_next_download_a_new_permit_superseding_the_old(
    client, organisation, booking, hanako, staff_member
):
    client.force_login(hanako[0])
    old_pdf = client.get(_url(booking)).content
    booking_payment_record(
        organisation=organisation,
        actor=staff_member,
        now=now(),
        booking_id=booking.pk,
        payment=PaymentStatus.PAID_COUNTER,
    )
    new = client.get(_url(booking))
    assert new.status_code == 200
    assert new.content != old_pdf
    old, current = _permits(booking)
    assert current.status == DocumentStatus.VALID
    assert bytes(current.pdf) == new.content
    assert "窓口で納付済み" in _text(new.content)
    assert old.status == DocumentStatus.SUPERSEDED
    assert old.superseded_by == current
    assert "差し替え" in old.status_reason
    assert old.status_changed_at is not None
    assert bytes(old.pdf) == old_pdf  # an issued document is never rewritten
    assert RegisterEntry.objects.filter(document__in=[old, current]).count() == 2
    event = AuditEvent.objects.get(action="document.superseded")
    assert event.target_id == str(old.pk)
    assert event.detail["superseded_by"] == current.pk
    assert event.detail["booking"] == booking.pk
    assert "hanako" not in str(event.detail)
    # And from then on, the new one every time.
    assert client.get(_url(booking)).content == new.content
    assert len(_permits(booking)) == 2


def test_a_permit_that_changes_back_is_issued_anew_not_revived(organisation, booking, hanako):
    user = hanako[0]
    _, first = booking_permit_issue(booking_id=booking.pk, user_id=user.pk, now=now())
    Facility.objects.filter(pk=booking.facility_id).update(rules="飲食は所定の場所で。")
    _, second = booking_permit_issue(booking_id=booking.pk, user_id=user.pk, now=now())
    Facility.objects.filter(pk=booking.facility_id).update(rules="飲食はできません。")
    _, third = booking_permit_issue(booking_id=booking.pk, user_id=user.pk, now=now())
    assert len({first.pk, second.pk, third.pk}) == 3
    assert [d.status for d in _permits(booking)] == [
        DocumentStatus.SUPERSEDED,
        DocumentStatus.SUPERSEDED,
        DocumentStatus.VALID,
    ]
    assert third.source_key.startswith(f"booking:{booking.pk}:permit:3-")
    assert first.source_key.split("-")[-1] == third.source_key.split("-")[-1]


def test_cancelling_withdraws_the_current_permit_and_the_download_is_then_404(
    client, organisation, booking, hanako
):
    client.force_login(hanako[0])
    assert client.get(_url(booking)).status_code == 200
    response = client.post(f"/account/reservations/{booking.pk}/cancel/", {"reason": ""})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    [permit] = _permits(booking)
    assert permit.status == DocumentStatus.WITHDRAWN
    assert permit.status_reason == "予約の取消しにより失効しました。"
    assert permit.status_changed_at is not None
    assert permit.superseded_by is None
    event = AuditEvent.objects.get(action="document.withdrawn")
    assert event.target_id == str(permit.pk)
    assert event.actor == hanako[0]
    assert event.detail == {
        "booking": booking.pk,
        "document": permit.pk,
        "kind": "permit",
        "sha256": permit.sha256,
    }
    # A cancelled booking has no permit: 404, and nothing new is issued.
    assert client.get(_url(booking)).status_code == 404
    assert _permits(booking) == [permit]


def test_a_cancelled_booking_never_downloaded_has_no_permit(client, booking, hanako):
    client.force_login(hanako[0])
    client.post(f"/account/reservations/{booking.pk}/cancel/", {"reason": ""})
    assert client.get(_url(booking)).status_code == 404
    assert _permits(booking) == []
    assert not AuditEvent.objects.filter(action="document.withdrawn").exists()


def test_a_staff_override_withdraws_the_permit(organisation, booking, hanako, staff_member):
    booking_permit_issue(booking_id=booking.pk, user_id=hanako[0].pk, now=now())
    booking_override(
        organisation=organisation,
        actor=staff_member,
        now=now(),
        booking_id=booking.pk,
        category="facility",
        reason="照明の故障",
    )
    [permit] = _permits(booking)
    assert permit.status == DocumentStatus.WITHDRAWN
    assert "施設による予約の取消し" in permit.status_reason
    assert "照明" not in permit.status_reason  # staff's own words stay off /verify/
    assert AuditEvent.objects.get(action="document.withdrawn").actor == staff_member.user


def test_a_no_show_withdraws_the_permit(organisation, booking, hanako, staff_member):
    booking_permit_issue(booking_id=booking.pk, user_id=hanako[0].pk, now=now())
    booking_no_show(
        organisation=organisation,
        actor=staff_member,
        now=booking.slot.starts_at + timedelta(hours=1),
        booking_id=booking.pk,
    )
    [permit] = _permits(booking)
    assert permit.status == DocumentStatus.WITHDRAWN
    assert "無断不使用" in permit.status_reason


def test_someone_elses_booking_is_404_and_issues_nothing(client, booking, taro):
    client.force_login(taro[0])
    assert client.get(_url(booking)).status_code == 404
    with pytest.raises(Booking.DoesNotExist):
        booking_permit_issue(booking_id=booking.pk, user_id=taro[0].pk, now=now())
    assert _permits(booking) == []


def test_a_booking_of_another_organisation_issues_its_permit_in_that_organisations_name(
    client, other_organisation, day
):
    facility = facility_make(other_organisation, name="鎌倉体育館")
    slots_make(facility, day)
    user, registration = _person(other_organisation, "jiro@example.jp")
    held = booking_hold(
        organisation=other_organisation,
        slot_id=slot_of(facility, "テニスコート1", day).pk,
        registration=registration,
        user=user,
        identity=None,
    ).booking
    booking_confirm(organisation=other_organisation, booking_id=held.pk, user=user)
    _, permit = booking_permit_issue(booking_id=held.pk, user_id=user.pk, now=now())
    assert permit.organisation == other_organisation
    assert RegisterEntry.objects.get(document=permit).organisation == other_organisation
