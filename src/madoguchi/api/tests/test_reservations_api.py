"""A resident's app books a facility over the API: lists facilities and slots, holds a slot
once (idempotently), confirms, reads back and cancels; every refusal is a clear status."""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.tokens import access_token_create
from madoguchi.reservations.constants import BookingStatus, RegistrationStatus
from madoguchi.reservations.models import Booking, Claim
from madoguchi.reservations.ratelimit import PER_ADDRESS, PER_USER
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
    facility = facility_make(organisation, rules="利用の30分前から入館できます。")
    slots_make(facility, day)
    return facility


def token_of(user) -> str:
    return access_token_create(user=user, name="アプリ", scopes=["applications"], now=now())[1]


@pytest.fixture
def hanako(organisation):
    user = resident_create("hanako@example.jp", verified=True)
    registration_make(organisation, user)
    return user, token_of(user)


@pytest.fixture
def taro(organisation):
    user = resident_create("taro@example.jp", verified=True)
    registration_make(organisation, user)
    return user, token_of(user)


def book(
    client: Client, token: str | None, body: Any, *, key: str | None = None, **extra: Any
) -> Any:
    headers = {"Idempotency-Key": key if key is not None else secrets.token_urlsafe(24)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(
        "/api/v1/reservations/",
        data=data,
        content_type=extra.pop("content_type", "application/json"),
        headers=headers,
        **extra,
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_facilities_of_an_organisation_are_listed_with_their_rules(client, organisation, facility):
    facility_make(organisation, name="非公開の施設", published=False)
    response = client.get(f"/api/v1/organisations/{organisation.lg_code}/facilities/")
    assert response.status_code == 200
    [row] = response.json()
    assert row["name"] == "市民体育館"
    assert row["rules"] == "利用の30分前から入館できます。"
    assert row["ial"] == 1
    assert row["eligibility_label"]


def test_unknown_organisation_code_is_404_and_a_malformed_one_400(client, db):
    assert client.get("/api/v1/organisations/999999/facilities/").status_code in (400, 404)
    assert client.get("/api/v1/organisations/abc/facilities/").status_code == 400


def test_slots_say_which_can_be_booked(client, organisation, facility, day, hanako):
    url = f"/api/v1/facilities/{facility.pk}/slots/?from={day}&to={day}"
    slots = client.get(url).json()["slots"]
    assert len(slots) == 4 * 3
    assert all(s["bookable"] for s in slots)
    hall = slot_of(facility, "大ホールA", day)
    assert book(client, hanako[1], {"slot": hall.pk}).status_code == 201
    after = {s["id"]: s for s in client.get(url).json()["slots"]}
    assert not after[hall.pk]["bookable"]
    assert not after[slot_of(facility, "大ホール", day).pk]["bookable"]
    assert after[slot_of(facility, "大ホールB", day).pk]["bookable"]
    assert after[hall.pk]["start"].startswith(f"{day}T09:00:00+09:00")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "YYYY-MM-DD"),
        ("from=令和8年4月1日", "YYYY-MM-DD"),
        ("to=yesterday", "YYYY-MM-DD"),
        ("from=2026-05-02&to=2026-05-01", "同じ日か"),
        ("from=2026-05-01&to=2026-06-01", "31日まで"),
        ("from=" + "9" * 5000, "YYYY-MM-DD"),
        ("from=2026-05-01%00", "YYYY-MM-DD"),
    ],
)
def test_bad_periods_are_400_in_japanese(client, facility, query, message):
    response = client.get(f"/api/v1/facilities/{facility.pk}/slots/?{query}")
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_unknown_or_unpublished_facility_is_404(client, organisation, facility):
    hidden = facility_make(organisation, name="準備中", published=False)
    for facility_id in (hidden.pk, 10**12, 2**70):
        response = client.get(f"/api/v1/facilities/{facility_id}/slots/")
        assert response.status_code in (404, 422), facility_id


def test_hold_confirm_read_and_cancel(client, organisation, facility, day, hanako):
    slot = slot_of(facility, "テニスコート1", day)
    key = secrets.token_urlsafe(24)
    held = book(client, hanako[1], {"slot": slot.pk}, key=key)
    assert held.status_code == 201, held.content
    body = held.json()
    assert body["status"] == "held"
    assert body["slot"]["id"] == slot.pk
    assert body["expires_at"]

    replay = book(client, hanako[1], {"slot": slot.pk}, key=key)
    assert replay.status_code == 200
    assert replay.json() == body
    assert Booking.objects.count() == 1

    confirmed = client.post(f"/api/v1/reservations/{body['id']}/confirm/", headers=auth(hanako[1]))
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"
    again = client.post(f"/api/v1/reservations/{body['id']}/confirm/", headers=auth(hanako[1]))
    assert again.json()["confirmed_at"] == confirmed.json()["confirmed_at"]

    read = client.get(f"/api/v1/reservations/{body['id']}/", headers=auth(hanako[1]))
    assert read.json()["number"] == body["number"]

    cancelled = client.delete(f"/api/v1/reservations/{body['id']}/", headers=auth(hanako[1]))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert not Claim.objects.exists()
    twice = client.delete(f"/api/v1/reservations/{body['id']}/", headers=auth(hanako[1]))
    assert twice.status_code == 409
    assert twice.json()["code"] == "state"


def test_a_taken_slot_is_409_and_the_whole_hall_after_a_half_too(
    client, facility, day, hanako, taro
):
    half = slot_of(facility, "大ホールB", day)
    assert book(client, hanako[1], {"slot": half.pk}).status_code == 201
    for slot in (half, slot_of(facility, "大ホール", day)):
        response = book(client, taro[1], {"slot": slot.pk})
        assert response.status_code == 409
        assert response.json()["code"] == "slot_taken"
        assert "ほかの方" in response.json()["detail"]


def test_someone_elses_booking_is_404(client, facility, day, hanako, taro):
    booking_id = book(client, hanako[1], {"slot": slot_of(facility, "大ホール", day).pk}).json()[
        "id"
    ]
    assert (
        client.get(f"/api/v1/reservations/{booking_id}/", headers=auth(taro[1])).status_code == 404
    )
    assert (
        client.post(
            f"/api/v1/reservations/{booking_id}/confirm/", headers=auth(taro[1])
        ).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/reservations/{booking_id}/", headers=auth(taro[1])).status_code
        == 404
    )
    assert Booking.objects.get().status == BookingStatus.HELD
    for path in ("/api/v1/reservations/0/", f"/api/v1/reservations/{2**63}/"):
        assert client.get(path, headers=auth(hanako[1])).status_code in (404, 422)


def test_without_a_registration_or_with_a_pending_one_is_403(
    client, organisation, other_organisation, facility, day
):
    user = resident_create("jiro@example.jp", verified=True)
    token = token_of(user)
    slot = slot_of(facility, "テニスコート1", day)
    response = book(client, token, {"slot": slot.pk})
    assert response.status_code == 403
    assert "利用者登録" in response.json()["detail"]
    registration_make(other_organisation, user)  # another city's registration does not count
    assert book(client, token, {"slot": slot.pk}).status_code == 403
    registration_make(organisation, user, status=RegistrationStatus.PENDING)
    response = book(client, token, {"slot": slot.pk})
    assert response.status_code == 403
    assert response.json()["code"] == "registration"
    assert not Booking.objects.exists()


def test_expired_hold_cannot_be_confirmed(client, facility, day, hanako):
    booking_id = book(client, hanako[1], {"slot": slot_of(facility, "大ホール", day).pk}).json()[
        "id"
    ]
    Booking.objects.filter(pk=booking_id).update(expires_at=now() - timedelta(seconds=1))
    response = client.post(f"/api/v1/reservations/{booking_id}/confirm/", headers=auth(hanako[1]))
    assert response.status_code == 410
    assert response.json()["code"] == "expired"
    assert not Claim.objects.exists()


def test_more_holds_than_allowed_is_429_with_retry_after(client, facility, day, hanako):
    for resource in ("大ホールA", "大ホールB"):
        assert (
            book(client, hanako[1], {"slot": slot_of(facility, resource, day).pk}).status_code
            == 201
        )
    response = book(client, hanako[1], {"slot": slot_of(facility, "テニスコート1", day).pk})
    assert response.status_code == 429
    assert response.json()["code"] == "cap"
    assert 1 <= int(response["Retry-After"]) <= 601


def test_too_many_attempts_by_one_account_is_429_with_retry_after(client, facility, day, hanako):
    slot = slot_of(facility, "テニスコート1", day)
    statuses = [book(client, hanako[1], {"slot": slot.pk}).status_code for _ in range(PER_USER[0])]
    assert statuses.count(201) == 1
    refused = book(client, hanako[1], {"slot": slot.pk})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "秒後" in refused.json()["detail"]
    assert Booking.objects.count() == 1


def test_too_many_attempts_from_one_ipv6_network_is_429(client, organisation, facility, day):
    slot = slot_of(facility, "テニスコート1", day)
    users = []
    for n in range(PER_ADDRESS[0] // PER_USER[0] + 1):
        user = resident_create(f"bot{n}@example.jp", verified=True)
        registration_make(organisation, user)
        users.append(token_of(user))
    # The limits count in fixed one-minute windows of the real clock: a run that crosses a
    # minute boundary starts counting again, so it is repeated (once) from the start of the
    # next window, which then holds none of its attempts.
    for run in range(2):
        if run:
            time.sleep(60 - time.time() % 60 + 0.2)
        window = int(time.time()) // 60
        statuses = []
        for attempt in range(PER_ADDRESS[0]):
            token = users[attempt // PER_USER[0]]
            # Different addresses of one /64 count as one client.
            address = f"2001:db8:1:2::{attempt + 1:x}"
            statuses.append(book(client, token, {"slot": slot.pk}, REMOTE_ADDR=address).status_code)
        refused = book(client, users[-1], {"slot": slot.pk}, REMOTE_ADDR="2001:db8:1:2:ffff::1")
        if int(time.time()) // 60 == window:
            break
    assert 429 not in statuses
    assert refused.status_code == 429
    other = book(client, users[-1], {"slot": slot.pk}, REMOTE_ADDR="2001:db8:1:3::1")
    assert other.status_code == 409  # another network: counted apart, and the slot is taken


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ({}, "application/json", 422),
        ({"slot": "1"}, "application/json", 422),
        ({"slot": 1.5}, "application/json", 422),
        ({"slot": True}, "application/json", 422),
        ({"slot": -1}, "application/json", 422),
        ({"slot": 2**64}, "application/json", 422),
        ({"slot": None}, "application/json", 422),
        ({"slot": 1, "user": 5}, "application/json", 422),
        ([1], "application/json", 422),
        ("{not json", "application/json", 400),
        ('{"slot": NaN}', "application/json", 400),
        ("slot=1", "application/x-www-form-urlencoded", 415),
        ("x" * (1024 * 1024 + 10), "application/json", 413),
    ],
)
def test_hostile_bodies_are_refused_in_japanese_and_store_nothing(
    client, facility, hanako, body, content_type, status
):
    response = book(client, hanako[1], body, content_type=content_type)
    assert response.status_code == status, response.content
    assert response.json()["detail"]
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "key", ["", "short", "x" * 65, "日本語のキーです日本語のキーです", "a b" * 10]
)
def test_missing_or_malformed_idempotency_key_is_400(client, facility, day, hanako, key):
    response = book(client, hanako[1], {"slot": slot_of(facility, "大ホール", day).pk}, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert not Booking.objects.exists()


def test_a_key_reused_for_another_slot_is_409(client, facility, day, hanako):
    key = secrets.token_urlsafe(24)
    assert (
        book(
            client, hanako[1], {"slot": slot_of(facility, "大ホール", day).pk}, key=key
        ).status_code
        == 201
    )
    other = book(client, hanako[1], {"slot": slot_of(facility, "テニスコート1", day).pk}, key=key)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency"
    assert Booking.objects.count() == 1


def test_another_organisations_slot_is_booked_only_with_its_registration(
    client, other_organisation, hanako
):
    other = facility_make(other_organisation, name="よその体育館")
    day = next_weekday()
    slots_make(other, day)
    response = book(client, hanako[1], {"slot": slot_of(other, "大ホール", day).pk})
    assert response.status_code == 403
    assert not Booking.objects.exists()


def test_unknown_slot_and_unpublished_facility_are_404(client, organisation, hanako):
    hidden = facility_make(organisation, name="準備中", published=False)
    day = next_weekday()
    slots_make(hidden, day)
    for slot_id in (slot_of(hidden, "大ホール", day).pk, 10**15):
        assert book(client, hanako[1], {"slot": slot_id}).status_code == 404


def test_a_started_slot_is_409(client, facility, day, hanako):
    slot = slot_of(facility, "大ホール", day)
    slot.starts_at = now() - timedelta(minutes=1)
    slot.date = to_tokyo(slot.starts_at).date()
    slot.save()
    response = book(client, hanako[1], {"slot": slot.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "past"


def test_anonymous_and_staff_tokens_are_refused(client, facility, day, admin_staff):
    from madoguchi.testing import staff_token

    slot = slot_of(facility, "大ホール", day)
    assert book(client, None, {"slot": slot.pk}).status_code == 401
    assert book(client, "mdg_00000000_wrong", {"slot": slot.pk}).status_code == 401
    assert book(client, staff_token(admin_staff), {"slot": slot.pk}).status_code == 403
    assert not Booking.objects.exists()


def test_a_logged_in_portal_session_needs_the_csrf_token(facility, day, organisation):
    user = resident_create("session@example.jp", verified=True)
    registration_make(organisation, user)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = book(browser, None, {"slot": slot_of(facility, "大ホール", day).pk})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Booking.objects.exists()
