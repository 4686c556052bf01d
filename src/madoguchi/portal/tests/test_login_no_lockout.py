"""A booking rush brings attackers who hammer accounts with wrong passwords (issue 13: one
city's PIN lock locked real residents out). Through the real login page: whoever hammers a
resident's account cannot stop that resident logging in from a browser they used before.

What the design (``identity.throttle``) guarantees, and what these tests pin down:

- failures from *other* addresses (one machine or a botnet, one guess per address) never stop
  the resident in a browser that logged in to the account before (its signed device cookie),
  from whatever address, nor at an address where they completed a login in the last 90 days;
- the only limit a trusted browser still meets is the one on its own (account, address) pair,
  after its own failures. Its known gap: an attacker *sharing the resident's address* (one
  office NAT or a carrier's shared address) adds failures to that same pair, and the resident
  then waits up to ``PAIR_MAX_DELAY`` (15 minutes) per attempt while the attack goes on. Telling
  them apart needs the device recorded with each attempt (a ``LoginAttempt`` column); the last
  test states today's behaviour so that a change to it is seen.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.identity import throttle
from madoguchi.testing import PASSWORD, resident_create

LOGIN = reverse("portal:account:login")
HOME = "198.51.100.7"
TRAVEL = "192.0.2.200"

pytestmark = pytest.mark.django_db


def attempt(client: Client, email: str, password: str, address: str) -> int:
    response = client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=address)
    return response.status_code


@pytest.fixture
def victim():
    return resident_create("victim@example.jp", verified=True)


@pytest.fixture
def victims_browser(victim):
    """The resident's own browser, which logged in once from home and keeps its cookie."""
    browser = Client()
    assert attempt(browser, victim.email, PASSWORD, HOME) == 302
    assert browser.cookies.get(throttle.DEVICE_COOKIE)
    browser.post(reverse("portal:account:logout"), REMOTE_ADDR=HOME)
    return browser


def hammer(victim, addresses: list[str], per_address: int) -> list[int]:
    attacker = Client()
    return [
        attempt(attacker, victim.email, f"guess-{n}", address)
        for address in addresses
        for n in range(per_address)
    ]


def test_a_botnet_hammering_the_account_is_throttled(victim, victims_browser):
    statuses = hammer(victim, [f"203.0.113.{n}" for n in range(1, 31)], 2)
    assert 302 not in statuses
    # The account is now throttled for anyone without a trust of their own ...
    assert attempt(Client(), victim.email, PASSWORD, "203.0.113.250") != 302


def test_the_victims_browser_still_logs_in_from_a_new_address(victim, victims_browser):
    hammer(victim, [f"203.0.113.{n}" for n in range(1, 31)], 2)
    hammer(victim, ["203.0.113.99"], 40)  # and one machine hammering alone
    assert attempt(victims_browser, victim.email, PASSWORD, TRAVEL) == 302


def test_the_victim_logs_in_at_home_without_the_cookie(victim, victims_browser):
    hammer(victim, [f"203.0.113.{n}" for n in range(1, 31)], 2)
    assert attempt(Client(), victim.email, PASSWORD, HOME) == 302


def test_the_victims_own_typos_are_forgiven_by_their_correct_password(victim, victims_browser):
    hammer(victim, [f"203.0.113.{n}" for n in range(1, 11)], 3)
    for _ in range(throttle.PAIR_FREE_FAILURES - 1):
        assert attempt(victims_browser, victim.email, "typo", TRAVEL) == 422
    assert attempt(victims_browser, victim.email, PASSWORD, TRAVEL) == 302


def test_known_gap_an_attacker_sharing_the_victims_address_delays_the_victim(
    victim, victims_browser
):
    hammer(victim, [HOME], throttle.PAIR_FREE_FAILURES + 2)
    # Same (account, address) pair as the attacker: the pair's wait applies to the victim too.
    assert attempt(victims_browser, victim.email, PASSWORD, HOME) != 302
    # From any other address the same browser is not held up.
    assert attempt(victims_browser, victim.email, PASSWORD, TRAVEL) == 302
