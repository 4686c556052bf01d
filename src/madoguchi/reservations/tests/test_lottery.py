"""The lottery: entries within the rules, a draw that runs once and all at once, offers and
releases by the rules, and a published result anyone can re-run."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command

from madoguchi.core.time import now as _now
from madoguchi.core.time import to_tokyo
from madoguchi.notifications.models import OutboxMessage
from madoguchi.reservations import lottery as lottery_module
from madoguchi.reservations.constants import BookingSource, BookingStatus, SlotState
from madoguchi.reservations.draw import commitment_of
from madoguchi.reservations.lottery import (
    lotteries_tick,
    lottery_create,
    lottery_draw,
    lottery_enter,
    lottery_release,
    lottery_withdraw,
    published,
)
from madoguchi.reservations.lottery_verify import lottery_verify
from madoguchi.reservations.models import (
    Booking,
    Claim,
    EntryStatus,
    Lottery,
    LotteryEntry,
    LotteryStatus,
    ReleaseRule,
    Slot,
)
from madoguchi.reservations.services import ReservationError, booking_confirm, booking_hold
from madoguchi.reservations.testing import facility_make, registration_make, slot_of, slots_make
from madoguchi.testing import resident_create


def target_month() -> date:
    today = to_tokyo(_now()).date()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def weekday_in(month: date, nth: int = 0) -> date:
    day = month + timedelta(days=7)
    found = -1
    while True:
        if day.weekday() < 5:
            found += 1
            if found == nth:
                return day
        day += timedelta(days=1)


def saturday_in(month: date) -> date:
    day = month + timedelta(days=7)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def t0():
    return _now()


@pytest.fixture
def month():
    return target_month()


@pytest.fixture
def facility(organisation, month):
    facility = facility_make(organisation)
    slots_make(facility, weekday_in(month, 0))
    slots_make(facility, weekday_in(month, 1))
    slots_make(facility, saturday_in(month))
    return facility


def make(organisation, admin_staff, facility, month, t0, **kw):
    values = {
        "organisation": organisation,
        "staff": admin_staff,
        "name": "テスト抽選",
        "month": month,
        "entry_opens_at": t0 - timedelta(hours=1),
        "entry_closes_at": t0 + timedelta(days=1),
        "draw_at": t0 + timedelta(days=2),
        "confirm_deadline": t0 + timedelta(days=5),
        "release_at": t0 + timedelta(days=6),
        "facility_ids": [facility.pk],
        "now": t0,
    }
    values.update(kw)
    return lottery_create(**values)


@pytest.fixture
def lottery(organisation, admin_staff, facility, month, t0):
    return make(organisation, admin_staff, facility, month, t0)


def person(organisation, email):
    user = resident_create(email, verified=True)
    return user, registration_make(organisation, user)


def enter(organisation, lottery, who, choices, t0, **kw):
    user, registration = who
    return lottery_enter(
        organisation=organisation,
        lottery_id=lottery.pk,
        registration=registration,
        user=user,
        choices=choices,
        now=t0,
        **kw,
    ).entry


def court(facility, month, nth=0, band="午前"):
    return slot_of(facility, "テニスコート1", weekday_in(month, nth), band).pk


def test_create_publishes_the_commitment_and_takes_the_slots(lottery, facility, month):
    assert len(lottery.commitment) == 64
    assert lottery.seed not in lottery.commitment
    assert lottery.commitment == commitment_of(lottery.seed)
    states = set(Slot.objects.filter(facility=facility).values_list("state", flat=True))
    assert states == {SlotState.LOTTERY}
    data = published(lottery)
    assert data["seed"] is None
    assert data["entrants"] is None
    assert lottery.seed not in json.dumps(data)


def test_create_refuses_dates_out_of_order_and_a_reviewer(
    organisation, admin_staff, staff_member, facility, month, t0
):
    with pytest.raises(ReservationError, match="日時の順序"):
        make(organisation, admin_staff, facility, month, t0, draw_at=t0)
    with pytest.raises(ReservationError, match="団体管理者"):
        make(organisation, staff_member, facility, month, t0)
    assert not Lottery.objects.exists()
    make(organisation, admin_staff, facility, month, t0)
    with pytest.raises(ReservationError, match="同じ施設・同じ月"):
        make(organisation, admin_staff, facility, month, t0)


def test_entry_rules(organisation, lottery, facility, month, t0):
    hanako = person(organisation, "hanako@example.jp")
    first = court(facility, month)
    entry = enter(organisation, lottery, hanako, [[first]], t0)
    assert len(entry.code) == 8
    assert entry.status == EntryStatus.ENTERED
    with pytest.raises(ReservationError, match="すでに応募している枠"):
        enter(organisation, lottery, hanako, [[first]], t0)
    with pytest.raises(ReservationError, match="重ねて"):
        enter(organisation, lottery, hanako, [[court(facility, month, 1)]] * 2, t0)
    with pytest.raises(ReservationError, match="希望は2つまで"):
        enter(organisation, lottery, hanako, [[court(facility, month, 1)], [1], [2]], t0)
    # two consecutive コマ of one court are one choice; 午前 + 夜間 are not consecutive
    pair = [court(facility, month, 1, "午前"), court(facility, month, 1, "午後")]
    enter(organisation, lottery, hanako, [pair], t0)
    saturday = saturday_in(month)
    gap = [slot_of(facility, "テニスコート1", saturday, b).pk for b in ("午前", "夜間")]
    with pytest.raises(ReservationError, match="続いたコマ"):
        enter(organisation, lottery, hanako, [gap], t0)
    mixed = [court(facility, month, 1, "夜間"), slot_of(facility, "大ホール", saturday).pk]
    with pytest.raises(ReservationError, match="同じ部屋"):
        enter(organisation, lottery, hanako, [mixed], t0)
    # one court on two days is one choice too
    two_days = [court(facility, month, 1, "夜間"), gap[0]]
    assert enter(organisation, lottery, hanako, [two_days], t0).choices.count() == 2


def test_entry_outside_the_window_or_the_lottery(
    organisation, other_organisation, lottery, facility, month, t0
):
    hanako = person(organisation, "hanako@example.jp")
    with pytest.raises(ReservationError, match="受付期間"):
        enter(organisation, lottery, hanako, [[court(facility, month)]], t0 + timedelta(days=1))
    outside = slots_make(facility, month + timedelta(days=40))[0]  # next month, not in lottery
    with pytest.raises(ReservationError, match="受け付けていない枠"):
        enter(organisation, lottery, hanako, [[outside.pk]], t0)
    with pytest.raises(ReservationError, match="受け付けていない枠"):
        enter(organisation, lottery, hanako, [[999_999_999]], t0)
    bad: object
    for bad in ([], "x", [[True]], [["1"]], [[1.5]], [[]], [[2**70]], None, [[1, 2, 3, 4, 5]]):
        with pytest.raises(ReservationError):
            enter(organisation, lottery, hanako, bad, t0)
    with pytest.raises(Lottery.DoesNotExist):
        lottery_enter(
            organisation=other_organisation,
            lottery_id=lottery.pk,
            registration=hanako[1],
            user=hanako[0],
            choices=[[court(facility, month)]],
            now=t0,
        )
    assert not LotteryEntry.objects.exists()


def test_caps_per_month_and_weekend(organisation, admin_staff, facility, month, t0):
    lottery = make(organisation, admin_staff, facility, month, t0, cap_per_month=2, cap_weekend=1)
    hanako = person(organisation, "hanako@example.jp")
    saturday = saturday_in(month)
    enter(organisation, lottery, hanako, [[slot_of(facility, "テニスコート1", saturday).pk]], t0)
    with pytest.raises(ReservationError, match="土日祝"):
        enter(
            organisation,
            lottery,
            hanako,
            [[slot_of(facility, "テニスコート1", saturday, "午後").pk]],
            t0,
        )
    enter(organisation, lottery, hanako, [[court(facility, month)]], t0)
    with pytest.raises(ReservationError, match="2件まで"):
        enter(organisation, lottery, hanako, [[court(facility, month, 1)]], t0)
    assert LotteryEntry.objects.count() == 2


def test_withdraw_before_close_only(organisation, lottery, facility, month, t0):
    hanako = person(organisation, "hanako@example.jp")
    entry = enter(organisation, lottery, hanako, [[court(facility, month)]], t0)
    with pytest.raises(ReservationError, match="取り下げられません"):
        lottery_withdraw(
            organisation=organisation, entry_id=entry.pk, user=hanako[0], now=t0 + timedelta(days=1)
        )
    done = lottery_withdraw(organisation=organisation, entry_id=entry.pk, user=hanako[0], now=t0)
    assert done.status == EntryStatus.WITHDRAWN


def entrants(organisation, lottery, facility, month, t0, n=6):
    people = [person(organisation, f"p{i}@example.jp") for i in range(n)]
    contested = court(facility, month)
    for who in people:
        enter(organisation, lottery, who, [[contested], [court(facility, month, 1)]], t0)
    return people


def test_draw_offers_publishes_and_runs_once(organisation, lottery, facility, month, t0):
    people = entrants(organisation, lottery, facility, month, t0)
    with pytest.raises(ReservationError, match="前は実施できません"):
        lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=t0)
    at = t0 + timedelta(days=2)
    drawn = lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=at)
    assert drawn.status == LotteryStatus.DRAWN
    assert len(drawn.winners) == 2
    offers = Booking.objects.filter(source=BookingSource.LOTTERY)
    assert offers.count() == 2
    assert set(offers.values_list("status", flat=True)) == {BookingStatus.OFFERED}
    assert all(b.expires_at == lottery.confirm_deadline for b in offers)
    assert Claim.objects.count() == 2
    statuses = sorted(LotteryEntry.objects.values_list("status", flat=True))
    assert statuses.count(EntryStatus.WON) == 2
    assert statuses.count(EntryStatus.LOST) == 4
    assert OutboxMessage.objects.count() == len(people)
    # slots nobody won open to first come at release_at, not now
    other = Slot.objects.get(pk=court(facility, month, 0, "午後"))
    assert other.state == SlotState.OPEN
    assert other.opens_at == lottery.release_at
    with pytest.raises(ReservationError, match="すでに実施"):
        lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=at)
    assert Booking.objects.count() == 2
    assert all(check.ok for check in lottery_verify(published(drawn)))


def test_a_crash_inside_the_draw_stores_nothing_and_a_rerun_completes(
    organisation, lottery, facility, month, t0, monkeypatch
):
    entrants(organisation, lottery, facility, month, t0)
    at = t0 + timedelta(days=2)

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(lottery_module, "_mail_results", crash)
    with pytest.raises(RuntimeError):
        lotteries_tick(now=at)
    lottery.refresh_from_db()
    assert lottery.status == LotteryStatus.ACCEPTING
    assert lottery.drawn_at is None
    assert lottery.entrants == []
    assert lottery.winners == []
    assert not Booking.objects.exists()
    assert not Claim.objects.exists()
    assert set(LotteryEntry.objects.values_list("status", flat=True)) == {EntryStatus.ENTERED}
    assert set(Slot.objects.filter(facility=facility).values_list("state", flat=True)) == {
        SlotState.LOTTERY
    }
    monkeypatch.undo()
    report = lotteries_tick(now=at)
    assert report.drawn == 1
    assert lotteries_tick(now=at).drawn == 0  # a second tick finds nothing to do
    assert Booking.objects.count() == 2


def test_confirm_then_release_first_come_never_instantly(
    organisation, lottery, facility, month, t0
):
    entrants(organisation, lottery, facility, month, t0)
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=2))
    first, second = list(Booking.objects.order_by("pk"))
    assert first.user is not None
    booking_confirm(
        organisation=organisation, booking_id=first.pk, user=first.user, now=t0 + timedelta(days=3)
    )
    with pytest.raises(ReservationError, match="解放する枠"):
        lottery_release(
            organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=4)
        )
    deadline = t0 + timedelta(days=5)
    assert lotteries_tick(now=deadline).released == 1
    second.refresh_from_db()
    assert second.status == BookingStatus.EXPIRED
    statuses = set(LotteryEntry.objects.filter(won_round=1).values_list("status", flat=True))
    assert statuses == {EntryStatus.CONFIRMED, EntryStatus.FORFEITED}
    freed = Slot.objects.get(pk=second.slot_id)
    assert freed.state == SlotState.OPEN
    assert freed.opens_at == lottery.release_at > deadline
    taker = person(organisation, "taker@example.jp")
    with pytest.raises(ReservationError, match="先着順"):
        booking_hold(
            organisation=organisation,
            slot_id=freed.pk,
            registration=taker[1],
            user=taker[0],
            identity=None,
            now=deadline,
        )
    held = booking_hold(
        organisation=organisation,
        slot_id=freed.pk,
        registration=taker[1],
        user=taker[0],
        identity=None,
        now=lottery.release_at,
    )
    assert held.booking.status == BookingStatus.HELD
    assert Lottery.objects.get(pk=lottery.pk).status == LotteryStatus.CLOSED


def test_second_draw_among_losers_published_and_verifiable(
    organisation, admin_staff, facility, month, t0
):
    lottery = make(
        organisation, admin_staff, facility, month, t0, release_rule=ReleaseRule.SECOND_DRAW
    )
    entrants(organisation, lottery, facility, month, t0)
    assert lottery.seed2 == lottery.commitment2 == ""
    drawn = lottery_draw(
        organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=2)
    )
    assert not Slot.objects.filter(facility=facility, state=SlotState.OPEN).exists()
    # A fresh seed for the second draw, not derived from the first (public from now on);
    # only its commitment is published with the first draw's results.
    seed2 = drawn.seed2
    assert len(seed2) == 64
    assert seed2 != drawn.seed
    assert seed2 != hashlib.sha256(f"{drawn.seed}:2".encode()).hexdigest()
    assert drawn.commitment2 == commitment_of(seed2)
    before = published(drawn)
    assert before["seed"] == drawn.seed
    assert before["second_commitment"] == drawn.commitment2
    assert before["second"] is None
    assert seed2 not in json.dumps(before)
    released = lottery_release(
        organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=5)
    )
    assert released.status == LotteryStatus.SECOND_DRAWN
    assert released.seed2 == seed2  # the one committed at the first draw
    assert released.second["seed"] == seed2
    assert released.second["commitment"] == drawn.commitment2
    assert len(released.second["winners"]) == 2  # both offers lapsed: two freed slots
    assert LotteryEntry.objects.filter(won_round=2, status=EntryStatus.WON).count() == 2
    assert all(check.ok for check in lottery_verify(published(released)))
    closed = lottery_release(
        organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=6)
    )
    assert closed.status == LotteryStatus.CLOSED
    assert not Slot.objects.filter(facility=facility, state=SlotState.PENDING).exists()


def test_second_seed_is_fresh_for_each_lottery_and_absent_without_a_second_draw(
    organisation, admin_staff, facility, month, t0
):
    plain = make(organisation, admin_staff, facility, month, t0)
    drawn = lottery_draw(organisation=organisation, lottery_id=plain.pk, now=t0 + timedelta(days=2))
    assert drawn.seed2 == drawn.commitment2 == ""
    assert published(drawn)["second_commitment"] is None
    seeds = set()
    for n in range(2):
        other = facility_make(organisation, name=f"第{n}体育館")
        slots_make(other, weekday_in(month, 0))
        second = make(
            organisation,
            admin_staff,
            other,
            month,
            t0,
            facility_ids=[other.pk],
            release_rule=ReleaseRule.SECOND_DRAW,
        )
        seeds.add(
            lottery_draw(
                organisation=organisation, lottery_id=second.pk, now=t0 + timedelta(days=2)
            ).seed2
        )
    assert len(seeds) == 2


def test_verify_checks_the_second_seed_against_the_earlier_commitment(
    organisation, admin_staff, facility, month, t0, capsys
):
    lottery = make(
        organisation, admin_staff, facility, month, t0, release_rule=ReleaseRule.SECOND_DRAW
    )
    entrants(organisation, lottery, facility, month, t0)
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=2))
    released = lottery_release(
        organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=5)
    )
    good = published(released)
    checks = lottery_verify(good)
    assert all(check.ok for check in checks)
    assert sum("二次抽選" in check.message for check in checks) == 3

    def broken(change) -> bool:
        data = json.loads(json.dumps(good))
        change(data)
        return not all(check.ok for check in lottery_verify(data))

    # The old derivation (or any seed other than the committed one) fails, even when the
    # result's own commitment is made to match it.
    derived = hashlib.sha256(f"{released.seed}:2".encode()).hexdigest()

    def swap_seed(data):
        data["second"]["seed"] = derived
        data["second"]["commitment"] = commitment_of(derived)

    assert broken(swap_seed)
    assert broken(lambda d: d.update(second_commitment=commitment_of(derived)))
    assert broken(lambda d: d.update(second_commitment=None))
    assert broken(lambda d: d.pop("second_commitment"))
    assert broken(lambda d: d["second"]["winners"].pop())
    assert broken(lambda d: d["second"]["entrants"].pop())
    call_command("lottery", "verify", str(lottery.pk))  # exits 0: no SystemExit
    out = capsys.readouterr().out
    assert f"二次抽選のコミットメント: {released.commitment2}" in out
    assert "確かめました" in out
    released.second = {**released.second, "seed": derived, "commitment": commitment_of(derived)}
    released.save(update_fields=["second"])
    with pytest.raises(SystemExit) as after:
        call_command("lottery", "verify", str(lottery.pk))
    assert after.value.code == 1
    assert "二次抽選: シードは事前に公開したコミットメントと一致しません" in capsys.readouterr().out


def test_a_whole_hall_and_its_half_never_both_won(organisation, lottery, facility, month, t0):
    day = weekday_in(month)
    whole = slot_of(facility, "大ホール", day).pk
    half = slot_of(facility, "大ホールA", day).pk
    for i in range(4):
        enter(
            organisation,
            lottery,
            person(organisation, f"h{i}@example.jp"),
            [[whole if i % 2 else half]],
            t0,
        )
    drawn = lottery_draw(
        organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=2)
    )
    assert len(drawn.winners) == 1


def test_verify_command_exit_codes(organisation, lottery, facility, month, t0, capsys):
    entrants(organisation, lottery, facility, month, t0)
    with pytest.raises(SystemExit) as before:
        call_command("lottery", "verify", str(lottery.pk))
    assert before.value.code == 1
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=2))
    call_command("lottery", "verify", str(lottery.pk))  # exits 0: no SystemExit
    assert "確かめました" in capsys.readouterr().out
    tampered = Lottery.objects.get(pk=lottery.pk)
    tampered.entrants = tampered.entrants[1:]
    tampered.save(update_fields=["entrants"])
    with pytest.raises(SystemExit) as after:
        call_command("lottery", "verify", str(lottery.pk))
    assert after.value.code == 1
    assert "不一致" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        call_command("lottery", "verify", "999999")


def test_verify_command_over_http(organisation, lottery, facility, month, t0, capsys):
    """--url reads the published data over HTTP (here a local server that serves it as the
    API does); tampered winners give exit code 1."""
    import http.server
    import threading

    entrants(organisation, lottery, facility, month, t0)
    drawn = lottery_draw(
        organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=2)
    )
    bodies = {f"/api/v1/lotteries/{drawn.pk}/": published(drawn)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            if body:
                self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        call_command("lottery", "verify", str(drawn.pk), "--url", base)
        assert "確かめました" in capsys.readouterr().out
        bodies[f"/api/v1/lotteries/{drawn.pk}/"]["winners"].reverse()
        bodies[f"/api/v1/lotteries/{drawn.pk}/"]["winners"].append(
            {"code": "ZZZZZZZZ", "rank": 1, "slots": [1]}
        )
        with pytest.raises(SystemExit) as tampered:
            call_command("lottery", "verify", str(drawn.pk), "--url", base)
        assert tampered.value.code == 1
        with pytest.raises(SystemExit) as missing:
            call_command("lottery", "verify", "999999", "--url", base)
        assert missing.value.code == 1
    finally:
        server.shutdown()


def test_a_slot_booked_outside_the_lottery_stops_the_draw_whole(
    organisation, lottery, facility, month, t0
):
    """A claim made outside the lottery on a winning slot: the draw stores nothing."""
    entrants(organisation, lottery, facility, month, t0)
    Slot.objects.filter(pk=court(facility, month)).update(state=SlotState.OPEN)
    taker = person(organisation, "taker@example.jp")
    held = booking_hold(
        organisation=organisation,
        slot_id=court(facility, month),
        registration=taker[1],
        user=taker[0],
        identity=None,
        now=t0,
    )
    with pytest.raises(ReservationError, match="抽選の外"):
        lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=t0 + timedelta(days=2))
    assert Booking.objects.count() == 1
    assert Lottery.objects.get().drawn_at is None
    assert held.booking.status == BookingStatus.HELD
