"""Residents' lottery pages: the public page keeps the seed secret until the draw and then
shows everything to re-run it; the entry form, my entries, confirming a win."""

from __future__ import annotations

from datetime import timedelta

import pytest

from madoguchi.core.time import now
from madoguchi.reservations.constants import BookingStatus
from madoguchi.reservations.lottery import lottery_draw, lottery_enter, lottery_release
from madoguchi.reservations.lottery_testing import (
    lottery_facility,
    lottery_make,
    target_month,
    weekday_in,
)
from madoguchi.reservations.models import Booking, EntryStatus, LotteryEntry, ReleaseRule
from madoguchi.reservations.testing import registration_make, slot_of
from madoguchi.testing import resident_create


@pytest.fixture
def setup(organisation, admin_staff):
    at = now()
    facility = lottery_facility(organisation, target_month(at))
    return lottery_make(organisation, admin_staff, facility, at=at), facility


@pytest.fixture
def hanako(organisation):
    user = resident_create("hanako@example.jp", verified=True)
    registration_make(organisation, user)
    return user


def url(lottery, suffix=""):
    return f"/o/141003/lotteries/{lottery.pk}/{suffix}"


def test_public_page_hides_the_seed_until_the_draw(client, organisation, setup, hanako):
    lottery, _facility = setup
    page = client.get(url(lottery))
    assert page.status_code == 200
    text = page.content.decode()
    assert lottery.commitment in text
    assert lottery.seed not in text
    assert "抽選のあとに公開します" in text
    assert client.get("/o/141003/lotteries/").status_code == 200
    assert client.get(f"/o/142042/lotteries/{lottery.pk}/").status_code == 404
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=now() + timedelta(days=2))
    text = client.get(url(lottery)).content.decode()
    assert lottery.seed in text
    assert f"madoguchi lottery verify {lottery.pk} --url http" in text
    download = client.get(url(lottery, "published.json"))
    assert download.json()["seed"] == lottery.seed


def test_enter_then_win_then_confirm(client, organisation, setup, hanako):
    lottery, facility = setup
    client.force_login(hanako)
    form = client.get(url(lottery, "enter/"))
    assert form.status_code == 200
    assert "第1希望" in form.content.decode()
    day = weekday_in(target_month())
    first = slot_of(facility, "テニスコート1", day)
    response = client.post(
        url(lottery, "enter/"),
        {"choice1": first.pk, "next1": "1", "choice2": "", "idempotency_key": "k" * 20},
    )
    assert response.status_code == 302
    entry = LotteryEntry.objects.get()
    assert entry.choices.count() == 2  # 午前 and the 午後 after it
    again = client.post(url(lottery, "enter/"), {"choice1": first.pk, "idempotency_key": "k" * 20})
    assert again.status_code == 302
    assert LotteryEntry.objects.count() == 1
    assert "/mypage/lotteries/" in client.get("/mypage/").content.decode()
    mine = client.get("/mypage/lotteries/").content.decode()
    assert entry.code in mine
    assert "取り下げる" in mine
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=now() + timedelta(days=2))
    mine = client.get("/mypage/lotteries/").content.decode()
    assert "確定する" in mine
    # 「確定する」 leads to the facility confirmation page (fee, 減免, refunds): one write path
    bookings = list(Booking.objects.order_by("pk"))
    code = organisation.lg_code
    for booking in bookings:
        link = f"/o/{code}/facilities/reservations/{booking.pk}/confirm/"
        assert f'href="{link}"' in mine
        assert "減免" in client.get(link).content.decode()
    assert client.post(f"/mypage/lotteries/bookings/{bookings[0].pk}/confirm/").status_code == 404
    assert Booking.objects.get(pk=bookings[0].pk).status == BookingStatus.OFFERED
    first_link = f"/o/{code}/facilities/reservations/{bookings[0].pk}/confirm/"
    assert client.post(first_link, {"reduction": ""}).status_code == 302
    entry.refresh_from_db()
    assert entry.status == EntryStatus.WON  # a grouped win: one of its two bookings is left
    assert "当選（確定待ち）" in client.get("/mypage/lotteries/").content.decode()
    last_link = f"/o/{code}/facilities/reservations/{bookings[1].pk}/confirm/"
    assert client.post(last_link, {"reduction": ""}).status_code == 302
    assert set(Booking.objects.values_list("status", flat=True)) == {BookingStatus.CONFIRMED}
    entry.refresh_from_db()
    assert entry.status == EntryStatus.CONFIRMED  # in booking_confirm's own transaction
    assert "当選（確定待ち）" not in client.get("/mypage/lotteries/").content.decode()


def test_hostile_entry_form_input(client, setup, hanako):
    lottery, _facility = setup
    client.force_login(hanako)
    for data in (
        {"choice1": "abc"},
        {"choice1": "999999999999"},
        {"choice1": "-1"},
        {"choice1": "1" * 500},
        {},
    ):
        response = client.post(url(lottery, "enter/"), data)
        assert response.status_code == 422, data
        assert "error-summary" in response.content.decode()
    assert not LotteryEntry.objects.exists()
    assert client.post("/mypage/lotteries/999999/withdraw/").status_code == 404
    assert client.post("/mypage/lotteries/bookings/999999/confirm/").status_code == 404


def test_entry_after_close_is_refused(client, setup, hanako):
    lottery, facility = setup
    client.force_login(hanako)
    slot = slot_of(facility, "テニスコート1", weekday_in(target_month()))
    lottery.entry_closes_at = now() - timedelta(minutes=1)  # the window has just closed
    lottery.save(update_fields=["entry_closes_at"])
    response = client.post(url(lottery, "enter/"), {"choice1": slot.pk})
    assert response.status_code == 422
    assert "受付期間" in response.content.decode()


def test_second_seed_stays_secret_on_the_page_and_download_until_the_second_draw(
    client, organisation, admin_staff, hanako
):
    at = now()
    facility = lottery_facility(organisation, target_month(at), name="第二体育館")
    lottery = lottery_make(
        organisation, admin_staff, facility, at=at, release_rule=ReleaseRule.SECOND_DRAW
    )
    day = weekday_in(target_month(at))
    for email in ("a@example.jp", "b@example.jp"):
        user = resident_create(email, verified=True)
        lottery_enter(
            organisation=organisation,
            lottery_id=lottery.pk,
            registration=registration_make(organisation, user),
            user=user,
            choices=[[slot_of(facility, "テニスコート1", day).pk]],
            now=at,
        )
    drawn = lottery_draw(
        organisation=organisation, lottery_id=lottery.pk, now=at + timedelta(days=2)
    )
    text = client.get(url(lottery)).content.decode()
    assert drawn.seed in text
    assert drawn.commitment2 in text
    assert drawn.seed2 not in text
    assert "二次抽選のコミットメント" in text
    download = client.get(url(lottery, "published.json"))
    assert drawn.seed2 not in download.content.decode()
    assert download.json()["second_commitment"] == drawn.commitment2
    lottery_release(organisation=organisation, lottery_id=lottery.pk, now=at + timedelta(days=5))
    text = client.get(url(lottery)).content.decode()
    assert drawn.seed2 in text
    assert "1回目のシードから二次抽選の順番を前もって計算することはできません" in text
    assert client.get(url(lottery, "published.json")).json()["second"]["seed"] == drawn.seed2
