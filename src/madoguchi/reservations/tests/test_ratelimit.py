"""The limits on booking attempts: per account and per client network, refusals not counted,
and whatever the client address looks like, an answer (never an exception)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from madoguchi.reservations.ratelimit import (
    PER_ADDRESS,
    PER_USER,
    booking_attempt_admit,
    network_of,
)

AT = datetime(2026, 5, 1, 9, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("not an address", "not an address"),
        ("x" * 5000, "x" * 100),
        ("", ""),
        ("\x00", "\x00"),
    ],
)
def test_clients_count_by_network_whatever_they_send(address, network):
    assert network_of(address) == network


def test_an_account_gets_its_attempts_per_minute_then_waits_for_the_next_minute():
    for _ in range(PER_USER[0]):
        assert booking_attempt_admit(user_id=7, client_address=None, now=AT) is None
    assert booking_attempt_admit(user_id=7, client_address=None, now=AT) == 50
    assert booking_attempt_admit(user_id=8, client_address=None, now=AT) is None
    assert (
        booking_attempt_admit(user_id=7, client_address=None, now=AT + timedelta(minutes=1)) is None
    )


def test_refused_attempts_do_not_count_against_the_address():
    for _ in range(PER_USER[0]):
        booking_attempt_admit(user_id=7, client_address="192.0.2.9", now=AT)
    for _ in range(100):  # one account hammering beyond its limit
        assert booking_attempt_admit(user_id=7, client_address="192.0.2.9", now=AT) is not None
    # Its refusals did not use up the address: others behind it may still book.
    for n in range(PER_ADDRESS[0] - PER_USER[0]):
        assert booking_attempt_admit(user_id=100 + n, client_address="192.0.2.9", now=AT) is None
    assert booking_attempt_admit(user_id=999, client_address="192.0.2.9", now=AT) is not None


def test_no_account_and_no_address_is_not_limited():
    for _ in range(PER_ADDRESS[0] * 2):
        assert booking_attempt_admit(user_id=None, client_address=None, now=AT) is None
