"""Console pages of lotteries: an admin creates one (its commitment public at once), sees the
entry counts and runs a due draw once; a reviewer cannot create or draw."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

from madoguchi.core.time import now, to_tokyo
from madoguchi.reservations.lottery import lottery_enter
from madoguchi.reservations.lottery_testing import (
    lottery_facility,
    lottery_make,
    target_month,
    weekday_in,
)
from madoguchi.reservations.models import Lottery, LotteryEntry, LotteryStatus, ReleaseRule
from madoguchi.reservations.testing import registration_make, slot_of
from madoguchi.testing import console_login, resident_create


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


class _Inputs(HTMLParser):
    """The named inputs of a page's form as a browser submits them (checked boxes and radios
    only, each named input once per rendering)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("input", "select", "textarea") and values.get("name"):
            if values.get("type") in ("checkbox", "radio", "submit"):
                return
            self.names.append(values["name"])


def test_the_new_lottery_form_renders_each_field_once_and_submits(
    client, organisation, admin_staff
):
    """QA: 利用月 was rendered twice (a substring test), so the browser sent an empty month."""
    facility = lottery_facility(organisation, target_month())
    console_login(client, admin_staff.user)
    page = client.get("/console/lotteries/new/").content.decode()
    inputs = _Inputs()
    inputs.feed(page[page.index("<h1>抽選を作る") :])  # the form (not the header's log-out)
    assert inputs.names.count("month") == 1
    assert len(inputs.names) == len(set(inputs.names))
    at = now()
    filled = {
        "name": "フォームからの抽選",
        "month": target_month().strftime("%Y-%m"),
        "entry_opens_at": fmt(at),
        "entry_closes_at": fmt(at + timedelta(days=1)),
        "draw_at": fmt(at + timedelta(days=2)),
        "confirm_deadline": fmt(at + timedelta(days=5)),
        "release_at": fmt(at + timedelta(days=6)),
        "cap_per_month": "4",
        "cap_weekend": "2",
        "max_choices": "2",
    }
    # Every text input the page renders is sent, as a browser does (a duplicate would be sent
    # twice, the second copy empty); plus the checked facility and release rule.
    data: dict[str, list[str]] = {}
    for name in inputs.names:
        data.setdefault(name, []).append("" if data.get(name) else filled.get(name, ""))
    data["facilities"] = [str(facility.pk)]
    data["release_rule"] = ["first_come"]
    response = client.post("/console/lotteries/new/", data)
    assert response.status_code == 302, response.content.decode()
    assert Lottery.objects.get().name == "フォームからの抽選"
    refused = client.post("/console/lotteries/new/", {**filled, "month": "9999-12"})
    assert refused.status_code == 422
    assert "2100-12までの月" in refused.content.decode()
    assert Lottery.objects.count() == 1


def test_entry_counts_are_shown_with_japanese_labels(client, organisation, admin_staff):
    month = target_month()
    facility = lottery_facility(organisation, month)
    at = now()
    lottery = lottery_make(organisation, admin_staff, facility, at=at)
    slot = slot_of(facility, "テニスコート1", weekday_in(month, 0)).pk
    for n, status in enumerate(("entered", "lost", "lost", "won")):
        user = resident_create(f"entrant{n}@example.jp", verified=True)
        registration = registration_make(organisation, user)
        entry = lottery_enter(
            organisation=organisation,
            lottery_id=lottery.pk,
            registration=registration,
            user=user,
            choices=[[slot]],
            now=at,
        ).entry
        LotteryEntry.objects.filter(pk=entry.pk).update(status=status)
    console_login(client, admin_staff.user)
    for url in ("/console/lotteries/", f"/console/lotteries/{lottery.pk}/"):
        text = client.get(url).content.decode()
        assert "応募中 1件、当選（確定待ち） 1件、落選 2件" in text, url
        for code in ("entered:", "lost:", "won:"):
            assert code not in text, url
