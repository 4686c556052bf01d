"""The demo's lotteries: one drawn (the demo resident won and can confirm; verify passes),
one open now that the demo resident can enter; bootstrap --demo twice changes nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from madoguchi.core.time import now
from madoguchi.reservations.constants import BookingSource, BookingStatus
from madoguchi.reservations.lottery import lottery_enter, lottery_open_slots
from madoguchi.reservations.models import Booking, Lottery, LotteryStatus


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_demo_lotteries(db, data_dir, capsys):
    call_command("bootstrap", "--demo", stdout=io.StringIO())
    call_command("bootstrap", "--demo", stdout=io.StringIO())
    drawn = Lottery.objects.get(status=LotteryStatus.DRAWN)
    accepting = Lottery.objects.get(status=LotteryStatus.ACCEPTING)
    assert Lottery.objects.count() == 2
    offer = Booking.objects.get(
        source=BookingSource.LOTTERY, user__email="resident@demo.madoguchi.jp"
    )
    assert offer.status == BookingStatus.OFFERED
    assert offer.expires_at is not None
    assert offer.expires_at > now()
    call_command("lottery", "verify", str(drawn.pk))  # exit code 0
    assert "確かめました" in capsys.readouterr().out
    registration = offer.registration
    assert registration is not None
    assert registration.user is not None
    slot = lottery_open_slots(accepting).first()
    assert slot is not None
    entry = lottery_enter(
        organisation=accepting.organisation,
        lottery_id=accepting.pk,
        registration=registration,
        user=registration.user,
        choices=[[slot.pk]],
    ).entry
    assert entry.code
