"""The lottery API: public data without the seed before the draw, with everything needed to
re-run it after; a resident's idempotent entry; hostile input refused cleanly."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from madoguchi.applications.services import new_idempotency_key
from madoguchi.core.time import now
from madoguchi.identity.tokens import access_token_create
from madoguchi.reservations.draw import commitment_of
from madoguchi.reservations.lottery import lottery_draw, lottery_enter, lottery_release
from madoguchi.reservations.lottery_testing import (
    lottery_facility,
    lottery_make,
    target_month,
    weekday_in,
)
from madoguchi.reservations.lottery_verify import lottery_verify
from madoguchi.reservations.models import LotteryEntry, ReleaseRule
from madoguchi.reservations.testing import registration_make, slot_of
from madoguchi.testing import resident_create


@pytest.fixture
def setup(organisation, admin_staff):
    at = now()
    facility = lottery_facility(organisation, target_month(at))
    lottery = lottery_make(organisation, admin_staff, facility, at=at)
    return lottery, facility


@pytest.fixture
def resident_token(organisation):
    user = resident_create("hanako@example.jp", verified=True)
    registration_make(organisation, user)
    return access_token_create(user=user, name="スマホ", scopes=["applications"], now=now())[1]


def court(facility, nth=0, band="午前"):
    return slot_of(facility, "テニスコート1", weekday_in(target_month(), nth), band).pk


def post(client, lottery, body, token=None, key=None, **kw):
    headers = {"Idempotency-Key": key or new_idempotency_key()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(
        f"/api/v1/lotteries/{lottery.pk}/entries/",
        data=data,
        content_type=kw.pop("content_type", "application/json"),
        headers=headers,
    )


def test_seed_is_never_shown_before_the_draw(client, setup, resident_token):
    lottery, facility = setup
    post(client, lottery, {"choices": [[court(facility)]]}, resident_token)
    response = client.get(f"/api/v1/lotteries/{lottery.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["seed"] is None
    assert body["entrants"] is None
    assert body["winners"] is None
    assert body["commitment"] == lottery.commitment
    assert lottery.seed not in response.content.decode()
    listing = client.get("/api/v1/organisations/141003/lotteries/")
    assert lottery.seed not in listing.content.decode()
    assert listing.json()["results"][0]["id"] == lottery.pk


def test_after_the_draw_everything_to_re_run_it_is_published(
    client, organisation, setup, resident_token
):
    lottery, facility = setup
    post(client, lottery, {"choices": [[court(facility)]]}, resident_token)
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=now() + timedelta(days=2))
    body = client.get(f"/api/v1/lotteries/{lottery.pk}/").json()
    assert body["seed"] == lottery.seed
    assert len(body["entrants"]) == 1
    assert body["winners"][0]["code"] == body["entrants"][0]["code"]
    assert all(check.ok for check in lottery_verify(body))
    assert "予約 花子" not in json.dumps(body, ensure_ascii=False)


def test_entry_is_idempotent(client, setup, resident_token):
    lottery, facility = setup
    key = new_idempotency_key()
    first = post(client, lottery, {"choices": [[court(facility)]]}, resident_token, key=key)
    assert first.status_code == 201, first.content
    again = post(client, lottery, {"choices": [[court(facility)]]}, resident_token, key=key)
    assert again.status_code == 200
    assert again.json()["code"] == first.json()["code"]
    assert LotteryEntry.objects.count() == 1


def test_hostile_entries_are_refused_cleanly(
    client, organisation, other_organisation, setup, resident_token
):
    lottery, facility = setup
    cases = [
        ({"choices": [[court(facility)]]}, None, 401),
        ({"choices": "x"}, resident_token, 422),
        ({"choices": [[True]]}, resident_token, 422),
        ({"choices": [[court(facility)]], "extra": 1}, resident_token, 422),
        ({"choices": [[10**30]]}, resident_token, 422),
        ("{not json", resident_token, 400),
        ("[1]", resident_token, 422),
    ]
    for body, token, status in cases:
        response = post(client, lottery, body, token)
        assert response.status_code == status, (body, response.content)
        assert "detail" in response.json()
    no_key = client.post(
        f"/api/v1/lotteries/{lottery.pk}/entries/",
        data="{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {resident_token}"},
    )
    assert no_key.status_code == 400
    missing = client.post(
        "/api/v1/lotteries/999999999/entries/",
        data=json.dumps({"choices": [[1]]}),
        content_type="application/json",
        headers={
            "Authorization": f"Bearer {resident_token}",
            "Idempotency-Key": new_idempotency_key(),
        },
    )
    assert missing.status_code == 404
    assert client.get("/api/v1/lotteries/999999999/").status_code == 404
    assert LotteryEntry.objects.count() == 0


def test_entry_without_registration_is_403(client, setup):
    lottery, facility = setup
    user = resident_create("noreg@example.jp", verified=True)
    token = access_token_create(user=user, name="x", scopes=["applications"], now=now())[1]
    response = post(client, lottery, {"choices": [[court(facility)]]}, token)
    assert response.status_code == 403


def test_second_seed_is_never_shown_before_the_second_draw(
    client, organisation, admin_staff, resident_token
):
    """With a second draw, only its commitment is published with the first draw's results;
    its seed (independent of the first) appears only once the second draw has run."""
    at = now()
    facility = lottery_facility(organisation, target_month(at), name="第二体育館")
    lottery = lottery_make(
        organisation, admin_staff, facility, at=at, release_rule=ReleaseRule.SECOND_DRAW
    )
    post(client, lottery, {"choices": [[court(facility)]]}, resident_token)
    for person in range(3):
        user = resident_create(f"p{person}@example.jp", verified=True)
        lottery_enter(
            organisation=organisation,
            lottery_id=lottery.pk,
            registration=registration_make(organisation, user),
            user=user,
            choices=[[court(facility)]],
            now=at,
        )
    drawn = lottery_draw(
        organisation=organisation, lottery_id=lottery.pk, now=at + timedelta(days=2)
    )
    assert drawn.seed2
    detail = client.get(f"/api/v1/lotteries/{lottery.pk}/")
    listing = client.get("/api/v1/organisations/141003/lotteries/")
    for response in (detail, listing):
        assert response.status_code == 200
        assert drawn.seed2 not in response.content.decode()
    body = detail.json()
    assert body["seed"] == drawn.seed
    assert body["second_commitment"] == drawn.commitment2 == commitment_of(drawn.seed2)
    assert body["second"] is None
    assert all(check.ok for check in lottery_verify(body))
    lottery_release(organisation=organisation, lottery_id=lottery.pk, now=at + timedelta(days=5))
    body = client.get(f"/api/v1/lotteries/{lottery.pk}/").json()
    assert body["second"]["seed"] == drawn.seed2
    assert body["second"]["commitment"] == body["second_commitment"]
    assert len(body["second"]["winners"]) == 1  # the unconfirmed win went to another loser
    checks = lottery_verify(body)
    assert all(check.ok for check in checks)
    assert any(check.message.startswith("二次抽選: シード") for check in checks)
