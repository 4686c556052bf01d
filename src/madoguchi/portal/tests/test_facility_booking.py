"""A resident books a facility in the portal: the week calendar, holding and confirming a slot
with its fee, the permit, cancelling with the refund shown first, and the waitlist — and every
hostile request answered with a clear message or a 404, never a 500, nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.reservations.constants import (
    BookingStatus,
    PaymentStatus,
    RegistrationStatus,
    WaitlistStatus,
)
from madoguchi.reservations.models import Booking, Claim, RefundRule, WaitlistEntry
from madoguchi.reservations.services import booking_confirm, booking_hold
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
    facility = facility_make(organisation, rules="利用後は元の状態に戻してください。")
    slots_make(facility, day)
    return facility


@pytest.fixture
def hanako(organisation):
    user = resident_create("hanako@example.jp", verified=True)
    return user, registration_make(organisation, user)


@pytest.fixture
def taro(organisation):
    user = resident_create("taro@example.jp", verified=True)
    return user, registration_make(organisation, user)


def _hold(organisation, slot, who):
    user, registration = who
    return booking_hold(
        organisation=organisation,
        slot_id=slot.pk,
        registration=registration,
        user=user,
        identity=None,
    ).booking


def _url(organisation, facility, *rest):
    base = f"/o/{organisation.lg_code}/facilities/{facility.pk}/"
    return base + "".join(f"{part}/" for part in rest)


def test_organisation_page_links_to_facilities_and_the_list_shows_published_ones(
    client, organisation, facility
):
    facility_make(organisation, name="非公開の館", published=False)
    page = client.get(f"/o/{organisation.lg_code}/").content.decode()
    assert f"/o/{organisation.lg_code}/facilities/" in page
    assert "施設の予約" in page
    listing = client.get(f"/o/{organisation.lg_code}/facilities/").content.decode()
    assert facility.name in listing
    assert "非公開の館" not in listing


def test_calendar_shows_the_week_with_states_and_links(client, organisation, facility, day, taro):
    _hold(organisation, slot_of(facility, "テニスコート1", day), taro)
    response = client.get(_url(organisation, facility), {"week": day.isoformat()})
    assert response.status_code == 200
    page = response.content.decode()
    assert "予約できます" in page
    assert "予約済み" in page
    assert "利用後は元の状態に戻してください。" in page
    assert f"/o/{organisation.lg_code}/facilities/{facility.pk}/log/" in page
    assert "還付" in page  # the refund default stated plainly
    free = slot_of(facility, "テニスコート1", day, "午後")
    assert _url(organisation, facility, "slots", free.pk) in page
    assert "week-days" in page  # the by-day layout for phones


@pytest.mark.parametrize(
    "week",
    ["not-a-date", "9999-12-31", "0001-01-01", "2020-01-01", "x" * 5000, "2026-02-30", "１２３"],
)
def test_bad_week_parameters_show_this_week(client, organisation, facility, week):
    response = client.get(_url(organisation, facility), {"week": week})
    assert response.status_code == 200
    assert "今週を表示しています" in response.content.decode()


def test_another_organisations_facility_and_slot_are_404(
    client, organisation, other_organisation, facility, day, hanako
):
    client.force_login(hanako[0])
    slot = slot_of(facility, "テニスコート1", day)
    assert (
        client.get(f"/o/{other_organisation.lg_code}/facilities/{facility.pk}/").status_code == 404
    )
    other = f"/o/{other_organisation.lg_code}/facilities/{facility.pk}/slots/{slot.pk}/"
    assert client.get(other).status_code == 404
    assert client.post(other + "hold/").status_code == 404
    other_facility = facility_make(other_organisation, name="鎌倉の館")
    crossed = _url(organisation, other_facility, "slots", slot.pk)
    assert client.get(crossed).status_code == 404
    assert client.get("/o/999999/facilities/").status_code == 404
    assert not Booking.objects.exists()


def test_hold_confirm_with_fee_then_permit_and_mail(client, organisation, facility, day, hanako):
    user, _ = hanako
    client.force_login(user)
    slot = slot_of(facility, "テニスコート1", day)
    page = client.get(_url(organisation, facility, "slots", slot.pk)).content.decode()
    assert "仮押さえして次へ" in page
    response = client.post(
        _url(organisation, facility, "slots", slot.pk, "hold"), {"idempotency_key": "k-1"}
    )
    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/reservations/{booking.pk}/confirm/")
    # A replayed hold (double click) lands on the same booking.
    again = client.post(
        _url(organisation, facility, "slots", slot.pk, "hold"), {"idempotency_key": "k-1"}
    )
    assert again["Location"] == response["Location"]
    confirm = client.get(response["Location"]).content.decode()
    assert "2,000円" in confirm
    assert "分（" in confirm  # the minutes left
    assert "還付の決まりがありません" in confirm
    done = client.post(response["Location"], {"reduction": ""})
    assert done.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.fee, booking.fee_due) == (2000, 2000)
    mail = OutboxMessage.objects.get(payload__to="hanako@example.jp")
    assert booking.number in mail.payload["body"]
    assert f"/account/reservations/{booking.pk}/permit.pdf" in mail.payload["body"]
    assert "使用許可書" in client.get(done["Location"]).content.decode()
    pdf = client.get(f"/account/reservations/{booking.pk}/permit.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    # Confirming twice changes nothing and sends no second mail.
    assert client.post(response["Location"], {"reduction": ""}).status_code == 302
    assert OutboxMessage.objects.filter(payload__to="hanako@example.jp").count() == 1
    mine = client.get("/account/reservations/").content.decode()
    assert booking.number in mine
    assert "使用許可書（PDF）" in mine


def test_unknown_reduction_is_refused_and_nothing_changes(
    client, organisation, facility, day, hanako
):
    client.force_login(hanako[0])
    booking = _hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    url = f"/o/{organisation.lg_code}/facilities/reservations/{booking.pk}/confirm/"
    for value in ("disability", "x" * 10000, "' OR 1=1 --"):
        response = client.post(url, {"reduction": value})
        assert response.status_code == 409
        assert "減免の区分はありません" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.HELD


def test_confirm_after_the_deadline_is_refused(client, organisation, facility, day, hanako):
    client.force_login(hanako[0])
    booking = _hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    Booking.objects.filter(pk=booking.pk).update(expires_at=now() - timedelta(seconds=1))
    url = f"/o/{organisation.lg_code}/facilities/reservations/{booking.pk}/confirm/"
    response = client.post(url, {"reduction": ""})
    assert response.status_code == 409
    assert "期限を過ぎた" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert not Claim.objects.exists()


def test_someone_elses_booking_is_404_everywhere(
    client, organisation, other_organisation, facility, day, hanako, taro
):
    booking = _hold(organisation, slot_of(facility, "テニスコート1", day), taro)
    booking_confirm(organisation=organisation, booking_id=booking.pk, user=taro[0])
    client.force_login(hanako[0])
    for url in (
        f"/o/{organisation.lg_code}/facilities/reservations/{booking.pk}/confirm/",
        f"/o/{organisation.lg_code}/facilities/reservations/{booking.pk}/done/",
        f"/account/reservations/{booking.pk}/permit.pdf",
        f"/account/reservations/{booking.pk}/cancel/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/account/reservations/{booking.pk}/cancel/").status_code == 404
    # The owner, through another organisation's address: 404 too.
    client.force_login(taro[0])
    crossed = f"/o/{other_organisation.lg_code}/facilities/reservations/{booking.pk}/confirm/"
    assert client.get(crossed).status_code == 404
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_anonymous_visitor_is_sent_to_login_and_told_what_is_needed(
    client, organisation, facility, day
):
    slot = slot_of(facility, "テニスコート1", day)
    page = client.get(_url(organisation, facility, "slots", slot.pk)).content.decode()
    assert "ログインと、この団体の利用者登録が必要です" in page
    response = client.post(_url(organisation, facility, "slots", slot.pk, "hold"))
    assert response.status_code == 302
    assert "/account/login/" in response["Location"]
    assert not Booking.objects.exists()


def test_without_registration_the_page_links_to_registration(client, organisation, facility, day):
    user = resident_create("new@example.jp", verified=True)
    client.force_login(user)
    slot = slot_of(facility, "テニスコート1", day)
    page = client.get(_url(organisation, facility, "slots", slot.pk)).content.decode()
    assert f"/o/{organisation.lg_code}/registration/" in page
    response = client.post(_url(organisation, facility, "slots", slot.pk, "hold"))
    assert response.status_code == 422
    assert "利用者登録が必要です" in response.content.decode()
    registration_make(organisation, user, status=RegistrationStatus.PENDING)
    response = client.post(_url(organisation, facility, "slots", slot.pk, "hold"))
    assert "確認が終わっていません" in response.content.decode()
    assert not Booking.objects.exists()


def test_identity_shortfall_is_explained_with_the_way_to_get_it(
    client, organisation, facility, day, hanako
):
    facility.ial = 2
    facility.save()
    client.force_login(hanako[0])
    slot = slot_of(facility, "テニスコート1", day)
    response = client.post(_url(organisation, facility, "slots", slot.pk, "hold"))
    assert response.status_code == 422
    page = response.content.decode()
    assert "/account/identity/" in page
    assert not Booking.objects.exists()


def test_taken_slot_hold_says_someone_was_first(client, organisation, facility, day, hanako, taro):
    slot = slot_of(facility, "テニスコート1", day)
    _hold(organisation, slot, taro)
    client.force_login(hanako[0])
    response = client.post(_url(organisation, facility, "slots", slot.pk, "hold"))
    assert response.status_code == 409
    assert "ほかの方の予約が先に" in response.content.decode()


def test_cancel_shows_the_refund_first_then_stores_it(client, organisation, facility, day, hanako):
    RefundRule.objects.create(
        organisation=organisation, facility=facility, days_before=7, percent=100
    )
    RefundRule.objects.create(
        organisation=organisation, facility=facility, days_before=1, percent=50
    )
    client.force_login(hanako[0])
    booking = _hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    booking_confirm(organisation=organisation, booking_id=booking.pk, user=hanako[0])
    Booking.objects.filter(pk=booking.pk).update(payment=PaymentStatus.PAID_COUNTER)
    page = client.get(f"/account/reservations/{booking.pk}/cancel/").content.decode()
    assert "100%（2,000円）が還付されます" in page
    assert "前日までに取り消した場合" in page
    response = client.post(f"/account/reservations/{booking.pk}/cancel/", {"reason": "雨"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.refund == 2000
    again = client.post(f"/account/reservations/{booking.pk}/cancel/")
    assert again.status_code == 409
    assert "すでに終わって" in again.content.decode()


def test_cancel_after_the_start_is_refused(client, organisation, facility, day, hanako):
    client.force_login(hanako[0])
    booking = _hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    booking_confirm(organisation=organisation, booking_id=booking.pk, user=hanako[0])
    booking.slot.__class__.objects.filter(pk=booking.slot_id).update(
        starts_at=now() - timedelta(minutes=5), ends_at=now() + timedelta(hours=1)
    )
    page = client.get(f"/account/reservations/{booking.pk}/cancel/").content.decode()
    assert "オンラインでは取り消せません" in page
    response = client.post(f"/account/reservations/{booking.pk}/cancel/")
    assert response.status_code == 409
    assert "利用開始後" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_waitlist_join_list_and_leave(client, organisation, facility, day, hanako, taro):
    slot = slot_of(facility, "テニスコート1", day)
    _hold(organisation, slot, taro)
    client.force_login(hanako[0])
    page = client.get(_url(organisation, facility, "slots", slot.pk)).content.decode()
    assert "キャンセル待ちに登録" in page
    assert "3件まで" in page
    response = client.post(_url(organisation, facility, "slots", slot.pk, "waitlist"))
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get()
    twice = client.post(_url(organisation, facility, "slots", slot.pk, "waitlist"))
    assert twice.status_code == 409
    assert "すでに登録しています" in twice.content.decode()
    assert WaitlistEntry.objects.count() == 1
    mine = client.get("/account/reservations/").content.decode()
    assert "取りやめる" in mine
    client.post(f"/account/reservations/waitlist/{entry.pk}/leave/")
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WITHDRAWN
    # Someone else's entry: 404.
    client.force_login(taro[0])
    assert client.post(f"/account/reservations/waitlist/{entry.pk}/leave/").status_code == 404


def test_waitlist_on_a_free_slot_is_refused(client, organisation, facility, day, hanako):
    client.force_login(hanako[0])
    slot = slot_of(facility, "テニスコート1", day)
    response = client.post(_url(organisation, facility, "slots", slot.pk, "waitlist"))
    assert response.status_code == 422
    assert "そのまま予約できます" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_waitlist_beyond_the_cap_is_refused(client, organisation, facility, day, hanako, taro):
    client.force_login(hanako[0])
    slots = [slot_of(facility, "テニスコート1", day, band) for band in ("午前", "午後", "夜間")]
    slots.append(slot_of(facility, "大ホール", day))
    for slot in slots:
        booking = _hold(organisation, slot, taro)
        booking_confirm(organisation=organisation, booking_id=booking.pk, user=taro[0])
    for slot in slots[:3]:
        joined = client.post(_url(organisation, facility, "slots", slot.pk, "waitlist"))
        assert joined.status_code == 302
    response = client.post(_url(organisation, facility, "slots", slots[3].pk, "waitlist"))
    assert response.status_code == 422
    assert "3件まで" in response.content.decode()
    assert WaitlistEntry.objects.count() == 3


def test_my_bookings_needs_login(client):
    response = client.get("/account/reservations/")
    assert response.status_code == 302
    assert "/account/login/" in response["Location"]


def test_non_integer_ids_are_404_not_500(client, organisation, facility, hanako):
    client.force_login(hanako[0])
    for url in (
        f"/o/{organisation.lg_code}/facilities/abc/",
        f"/o/{organisation.lg_code}/facilities/{facility.pk}/slots/99999999999999999999/",
        "/account/reservations/99999999999999999999/permit.pdf",
        f"/o/{organisation.lg_code}/facilities/reservations/0/confirm/",
    ):
        assert client.get(url).status_code == 404, url


def test_demo_resident_has_a_booking_with_a_permit_and_waits_for_a_taken_slot(client, db):
    from madoguchi.ops.demo_reservations import demo_reservations
    from madoguchi.tenants.models import Organisation

    yokohama = Organisation.objects.get(lg_code="141003")
    resident = resident_create("demo-resident@example.jp", verified=True)
    demo_reservations(yokohama, resident, now=now())
    demo_reservations(yokohama, resident, now=now())  # idempotent
    [booking] = Booking.objects.filter(user=resident)
    assert booking.status == BookingStatus.CONFIRMED
    [entry] = WaitlistEntry.objects.filter(user=resident)
    assert entry.status == WaitlistStatus.WAITING
    client.force_login(resident)
    mine = client.get("/account/reservations/").content.decode()
    assert booking.number in mine
    assert "取りやめる" in mine
    assert client.get(f"/account/reservations/{booking.pk}/permit.pdf").status_code == 200
    assert client.get(f"/o/{yokohama.lg_code}/").content.decode().count("施設の予約") >= 1


def test_tampered_hold_form_is_refused_without_storing(
    client, organisation, facility, day, hanako, taro
):
    client.force_login(hanako[0])
    registration_make(organisation, hanako[0], number="U999999")  # a second registration
    slot = slot_of(facility, "テニスコート1", day)
    url = _url(organisation, facility, "slots", slot.pk, "hold")
    # Someone else's registration id: 404.
    assert client.post(url, {"registration": str(taro[1].pk)}).status_code == 404
    for value in ("abc", "-1", "9" * 30):
        assert client.post(url, {"registration": value}).status_code == 404
    response = client.post(url, {"idempotency_key": "k" * 150})
    assert response.status_code == 422
    assert "長すぎます" in response.content.decode()
    assert not Booking.objects.exists()
    # GET on a POST-only address is refused, not served.
    assert client.get(url).status_code == 405
