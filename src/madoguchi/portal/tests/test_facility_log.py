"""The public log of a facility: what happened to which slot and by which rule, newest first,
paged — and never who booked (no name, no registration or booking number, no contact)."""

from __future__ import annotations

import pytest

from madoguchi.core.time import now
from madoguchi.reservations.models import FacilityLogEntry
from madoguchi.reservations.staff import booking_counter_create, booking_override, slot_close
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
    facility = facility_make(organisation)
    slots_make(facility, day)
    return facility


def url(facility, code="141003"):
    return f"/o/{code}/facilities/{facility.pk}/log/"


def test_the_log_shows_overrides_and_closures_without_personal_data(
    client, staff_member, facility, day
):
    organisation = facility.organisation
    registration = registration_make(organisation, resident_create("hanako@example.jp"))
    registration.name = "秘密 花子"
    registration.save()
    booking = booking_counter_create(
        organisation=organisation,
        actor=staff_member,
        now=now(),
        slot_id=slot_of(facility, "テニスコート1", day).pk,
        registration_id=registration.pk,
        purpose="秘密の練習",
    )
    contact = booking_counter_create(
        organisation=organisation,
        actor=staff_member,
        now=now(),
        slot_id=slot_of(facility, "大ホールA", day).pk,
        contact="電話 次郎 090-1234-5678",
    )
    for target in (booking, contact):
        booking_override(
            organisation=organisation,
            actor=staff_member,
            now=now(),
            booking_id=target.pk,
            category="request",
            reason="秘密 花子さんから電話で取消しの申出",
        )
    slot_close(
        organisation=organisation,
        actor=staff_member,
        now=now(),
        slot_id=slot_of(facility, "大ホールB", day, "夜間").pk,
        reason="maintenance",
    )
    response = client.get(url(facility))
    assert response.status_code == 200
    text = response.content.decode()
    assert "公平性のため" in text
    assert "職員による取消し: 利用者からの申出（窓口・電話）" in text
    assert "職員による受付停止: 施設の点検・工事のため" in text
    assert "テニスコート1" in text
    for secret in (
        "花子",
        "次郎",
        "090-1234-5678",
        registration.number,
        booking.number,
        contact.number,
        "秘密",
    ):
        assert secret not in text, secret
    # Newest first.
    assert text.index("受付停止: 施設") < text.index("職員による取消し")


def test_the_log_is_paged_and_hostile_queries_do_not_fail(client, facility, day):
    slot = slot_of(facility, "テニスコート1", day)
    FacilityLogEntry.objects.bulk_create(
        [
            FacilityLogEntry(
                organisation=facility.organisation,
                facility=facility,
                slot=slot,
                at=now(),
                kind="released",
                rule=f"規則{i:03d}",
            )
            for i in range(60)
        ]
    )
    first = client.get(url(facility)).content.decode()
    assert "1 / 2" in first
    assert "古い記録へ" in first
    for page in ("2", "abc", "-1", "99999", "9" * 40):
        assert client.get(url(facility), {"page": page}).status_code == 200


def test_unpublished_foreign_or_unknown_facilities_are_not_found(
    client, organisation, other_organisation, facility
):
    hidden = facility_make(organisation, name="非公開の館", published=False)
    theirs = facility_make(other_organisation, name="鎌倉の館")
    assert client.get(url(hidden)).status_code == 404
    assert client.get(url(theirs)).status_code == 404
    assert client.get(url(theirs, code="142042")).status_code == 200
    assert client.get(url(facility, code="999999")).status_code == 404
    assert client.get(url(facility, code="abc")).status_code == 404
    assert client.get("/o/141003/facilities/99999999/log/").status_code == 404
