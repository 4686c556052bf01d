"""The console's 利用者登録 and イベント・講座 pages: flagged registrations first, counter
confirmation, approval and rejection, events created and edited, the door check-in and the
draw; another organisation's objects (or staff of another organisation) get a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.assurance import VerifiedIdentity
from madoguchi.reservations.constants import RegistrationKind, RegistrationStatus
from madoguchi.reservations.events import event_save, event_signup
from madoguchi.reservations.models import Event, Registration
from madoguchi.reservations.models.events import EventMode, SignupStatus
from madoguchi.reservations.registrations import MemberInput, registration_apply
from madoguchi.testing import console_login, resident_create


def person(n: int) -> MemberInput:
    from datetime import date

    return MemberInput(f"会員 {n}", f"かいいん {n}", date(1980, 1, 1), "resident")


@pytest.fixture
def pending(organisation):
    user = resident_create("console-member@example.jp", verified=True)
    return registration_apply(
        organisation=organisation,
        user=user,
        identity=None,
        kind=RegistrationKind.INDIVIDUAL,
        applicant=person(0),
    )


@pytest.fixture
def flagged(organisation):
    first = resident_create("team-a@example.jp", verified=True)
    registration_apply(
        organisation=organisation,
        user=first,
        identity=VerifiedIdentity(ial=2),
        kind=RegistrationKind.GROUP,
        group_name="Aチーム",
        applicant=person(1),
        members=[person(2), person(3)],
    )
    second = resident_create("team-b@example.jp", verified=True)
    return registration_apply(
        organisation=organisation,
        user=second,
        identity=VerifiedIdentity(ial=2),
        kind=RegistrationKind.GROUP,
        group_name="Bチーム",
        applicant=person(4),
        members=[person(2), person(3)],
    )


def test_list_shows_flagged_first(staff_client, pending, flagged):
    page = staff_client.get(reverse("console:registrations"))
    assert page.status_code == 200
    body = page.content.decode()
    assert body.index(flagged.number) < body.index(pending.number)
    assert "要確認" in body
    assert staff_client.get(reverse("console:registrations") + "?status=<x>").status_code == 200


def test_detail_and_counter_confirmation(staff_client, pending, staff_member):
    url = reverse("console:registration", args=[pending.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "会員 0" in page.content.decode()
    refused = staff_client.post(url, {"act": "confirm", "document": "bogus"})
    assert refused.status_code == 400
    assert "書類" in refused.content.decode()
    done = staff_client.post(url, {"act": "confirm", "document": "my_number_card"})
    assert done.status_code == 302
    pending.refresh_from_db()
    assert pending.status == RegistrationStatus.APPROVED
    assert pending.confirmed_by == staff_member
    assert "マイナンバーカード" in staff_client.get(url).content.decode()


def test_flag_is_shown_and_reject_needs_a_reason(staff_client, flagged):
    url = reverse("console:registration", args=[flagged.pk])
    assert "職員への注意" in staff_client.get(url).content.decode()
    assert staff_client.post(url, {"act": "reject", "reason": ""}).status_code == 400
    assert staff_client.post(url, {"act": "nuke"}).status_code == 400
    assert (
        staff_client.post(url, {"act": "reject", "reason": "同じチームの重複登録"}).status_code
        == 302
    )
    flagged.refresh_from_db()
    assert flagged.status == RegistrationStatus.REJECTED


def test_other_organisation_is_404(client, other_staff, pending):
    console_login(client, other_staff.user)
    url = reverse("console:registration", args=[pending.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"act": "confirm", "document": "passport"}).status_code == 404
    assert client.post(url, {"act": "close"}).status_code == 404
    pending.refresh_from_db()
    assert pending.status == RegistrationStatus.PENDING
    assert pending.number not in client.get(reverse("console:registrations")).content.decode()


def test_console_needs_a_staff_login(client, pending):
    response = client.get(reverse("console:registrations"))
    assert response.status_code == 302


# --- Events ------------------------------------------------------------------------------


def local(delta: timedelta) -> str:
    return f"{to_tokyo(now() + delta):%Y-%m-%dT%H:%M}"


def event_form(**extra):
    return {
        "title": "市民ヨガ講座",
        "venue": "本町会館",
        "starts_at": local(timedelta(days=10)),
        "ends_at": local(timedelta(days=10, hours=2)),
        "signup_opens_at": local(timedelta(days=-1)),
        "signup_closes_at": local(timedelta(days=5)),
        "capacity": "2",
        "mode": "first_come",
        "fee": "0",
        "published": "1",
        **extra,
    }


def test_create_edit_and_list_events(staff_client, organisation):
    assert staff_client.get(reverse("console:event_new")).status_code == 200
    response = staff_client.post(reverse("console:event_new"), event_form())
    assert response.status_code == 302
    event = Event.objects.get(organisation=organisation)
    assert event.capacity == 2
    assert event.published
    edit = reverse("console:event_edit", args=[event.pk])
    assert staff_client.get(edit).status_code == 200
    assert staff_client.post(edit, event_form(title="市民ヨガ講座（改）")).status_code == 302
    event.refresh_from_db()
    assert event.title == "市民ヨガ講座（改）"
    listing = staff_client.get(reverse("console:events")).content.decode()
    assert "市民ヨガ講座（改）" in listing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"starts_at": "tomorrow"}, "開始日時"),
        ({"starts_at": "2026-02-30T10:00"}, "開始日時"),
        ({"capacity": "-3"}, "定員"),
        ({"capacity": "１０"}, "定員"),
        ({"capacity": "0"}, "定員"),
        ({"fee": "free"}, "参加費"),
        ({"title": ""}, "名称"),
        ({"mode": "auction"}, "申込の方法"),
        ({"facility": "abc"}, "施設"),
        ({"signup_closes_at": local(timedelta(days=11))}, "開始日時より前"),
    ],
)
def test_hostile_event_form(staff_client, change, message):
    response = staff_client.post(reverse("console:event_new"), event_form(**change))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Event.objects.exists()


def test_another_organisations_facility_is_404(staff_client, other_organisation):
    from madoguchi.reservations.testing import facility_make

    facility = facility_make(other_organisation, name="鎌倉の体育館")
    response = staff_client.post(
        reverse("console:event_new"), event_form(facility=str(facility.pk))
    )
    assert response.status_code == 404
    assert not Event.objects.exists()


@pytest.fixture
def course(organisation, staff_member):
    at = now()
    return event_save(
        organisation=organisation,
        staff=staff_member,
        event_id=None,
        title="救命講習",
        starts_at=at + timedelta(days=7),
        ends_at=at + timedelta(days=7, hours=1),
        signup_opens_at=at - timedelta(hours=1),
        signup_closes_at=at + timedelta(days=6),
        capacity=3,
        published=True,
    )


def test_attendees_and_check_in(staff_client, organisation, course):
    user = resident_create("attendee@example.jp", verified=True)
    signup = event_signup(
        organisation=organisation, event_id=course.pk, user=user, name="受講 花子"
    )
    page = staff_client.get(reverse("console:event", args=[course.pk]))
    assert page.status_code == 200
    assert "受講 花子" in page.content.decode()
    act = reverse("console:event_action", args=[course.pk])
    response = staff_client.post(act, {"act": "check_in", "code": signup.code}, follow=True)
    assert "受け付けました" in response.content.decode()
    signup.refresh_from_db()
    assert signup.checked_in_at is not None
    again = staff_client.post(act, {"act": "check_in", "code": signup.code}, follow=True)
    assert "受付済み" in again.content.decode()
    wrong = staff_client.post(act, {"act": "check_in", "code": "<script>"}, follow=True)
    assert "ありません" in wrong.content.decode()
    assert staff_client.get(act).status_code == 405


def test_draw_from_the_console(staff_client, organisation, staff_member):
    at = now()
    event = event_save(
        organisation=organisation,
        staff=staff_member,
        event_id=None,
        title="抽選の講座",
        starts_at=at + timedelta(days=7),
        ends_at=at + timedelta(days=7, hours=1),
        signup_opens_at=at - timedelta(days=2),
        signup_closes_at=at + timedelta(days=6),
        capacity=1,
        mode=EventMode.LOTTERY,
        published=True,
    )
    for n in range(3):
        user = resident_create(f"lottery{n}@example.jp", verified=True)
        event_signup(organisation=organisation, event_id=event.pk, user=user, name=f"応募 {n}")
    act = reverse("console:event_action", args=[event.pk])
    early = staff_client.post(act, {"act": "draw"}, follow=True)
    assert "締切の後" in early.content.decode()
    Event.objects.filter(pk=event.pk).update(
        signup_opens_at=at - timedelta(days=3), signup_closes_at=at - timedelta(minutes=1)
    )
    staff_client.post(act, {"act": "draw"})
    assert event.signups.filter(status=SignupStatus.CONFIRMED).count() == 1
    assert event.signups.filter(status=SignupStatus.LOST).count() == 2


def test_events_of_another_organisation_are_404(client, other_staff, course):
    console_login(client, other_staff.user)
    assert client.get(reverse("console:event", args=[course.pk])).status_code == 404
    assert client.get(reverse("console:event_edit", args=[course.pk])).status_code == 404
    assert (
        client.post(reverse("console:event_edit", args=[course.pk]), event_form()).status_code
        == 404
    )
    act = reverse("console:event_action", args=[course.pk])
    assert client.post(act, {"act": "check_in", "code": "X"}).status_code == 404
    course.refresh_from_db()
    assert course.title == "救命講習"
    assert Registration.objects.count() == 0


def test_an_individual_registration_is_one_person_shown_as_the_person(
    staff_client, organisation, pending, flagged
):
    """QA: an individual registration showed 人数 0人 and called its person 代表者."""
    from madoguchi.reservations.testing import registration_make

    bare = registration_make(organisation, resident_create("bare@example.jp"), number="U900001")
    body = staff_client.get(reverse("console:registrations")).content.decode()
    for registration, count in ((pending, "1人"), (bare, "1人"), (flagged, "3人")):
        row = body[body.index(registration.number) :]
        row = row[: row.index("</tr>")]
        assert f"<td>{count}</td>" in row, registration.number
    detail = staff_client.get(reverse("console:registration", args=[pending.pk])).content.decode()
    assert "<td>本人</td>" in detail
    assert "代表者" not in detail
    group = staff_client.get(reverse("console:registration", args=[flagged.pk])).content.decode()
    assert "<td>代表者</td>" in group
    assert "<td>構成員</td>" in group
