"""Console pages of lotteries: an admin creates one (its commitment public at once), sees the
entry counts and runs a due draw once; a reviewer cannot create or draw."""

from __future__ import annotations

from datetime import timedelta

from madoguchi.core.time import now, to_tokyo
from madoguchi.reservations.lottery_testing import lottery_facility, lottery_make, target_month
from madoguchi.reservations.models import Lottery, LotteryStatus, ReleaseRule
from madoguchi.testing import console_login


def fmt(moment):
    return to_tokyo(moment).strftime("%Y-%m-%dT%H:%M")


def test_admin_creates_a_lottery(client, organisation, admin_staff):
    facility = lottery_facility(organisation, target_month())
    console_login(client, admin_staff.user)
    assert client.get("/console/lotteries/new/").status_code == 200
    at = now()
    data = {
        "name": "4月分の抽選",
        "month": target_month().strftime("%Y-%m"),
        "facilities": [facility.pk],
        "category": "",
        "entry_opens_at": fmt(at),
        "entry_closes_at": fmt(at + timedelta(days=1)),
        "draw_at": fmt(at + timedelta(days=2)),
        "confirm_deadline": fmt(at + timedelta(days=5)),
        "release_rule": "first_come",
        "release_at": fmt(at + timedelta(days=6)),
        "cap_per_month": 4,
        "cap_weekend": 2,
        "max_choices": 2,
    }
    bad = client.post("/console/lotteries/new/", {**data, "draw_at": fmt(at)})
    assert bad.status_code == 422
    assert "日時の順序" in bad.content.decode()
    assert client.post("/console/lotteries/new/", {**data, "month": "x"}).status_code == 422
    response = client.post("/console/lotteries/new/", data)
    assert response.status_code == 302
    lottery = Lottery.objects.get()
    page = client.get(f"/console/lotteries/{lottery.pk}/").content.decode()
    assert lottery.commitment in page
    assert lottery.seed not in page
    assert "4月分の抽選" in client.get("/console/lotteries/").content.decode()


def test_draw_button_runs_once(client, organisation, admin_staff, staff_member):
    at = now() - timedelta(days=2, minutes=5)
    lottery = lottery_make(
        organisation,
        admin_staff,
        lottery_facility(organisation, target_month()),
        at=now(),
        draw_at=now() + timedelta(days=1),
    )
    console_login(client, staff_member.user)
    assert client.post(f"/console/lotteries/{lottery.pk}/draw/").status_code == 403
    assert client.get("/console/lotteries/new/").status_code == 403
    console_login(client, admin_staff.user)
    client.post(f"/console/lotteries/{lottery.pk}/draw/")  # not due: refused with a message
    assert Lottery.objects.get().status == LotteryStatus.ACCEPTING
    Lottery.objects.filter(pk=lottery.pk).update(
        entry_opens_at=at, entry_closes_at=at + timedelta(hours=1), draw_at=at + timedelta(hours=2)
    )
    assert client.post(f"/console/lotteries/{lottery.pk}/draw/").status_code == 302
    assert Lottery.objects.get().status == LotteryStatus.DRAWN
    again = client.post(f"/console/lotteries/{lottery.pk}/draw/", follow=True)
    assert "すでに実施" in again.content.decode()


def test_second_draw_commitment_shown_its_seed_not(client, organisation, admin_staff):
    at = now() - timedelta(days=2, minutes=5)
    lottery = lottery_make(
        organisation,
        admin_staff,
        lottery_facility(organisation, target_month()),
        at=now(),
        release_rule=ReleaseRule.SECOND_DRAW,
    )
    Lottery.objects.filter(pk=lottery.pk).update(
        entry_opens_at=at, entry_closes_at=at + timedelta(hours=1), draw_at=at + timedelta(hours=2)
    )
    console_login(client, admin_staff.user)
    assert client.post(f"/console/lotteries/{lottery.pk}/draw/").status_code == 302
    drawn = Lottery.objects.get()
    assert drawn.seed2
    page = client.get(f"/console/lotteries/{lottery.pk}/").content.decode()
    assert drawn.commitment2 in page
    assert drawn.seed2 not in page
