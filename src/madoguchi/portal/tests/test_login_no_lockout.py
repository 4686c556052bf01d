"""A booking rush brings attackers who hammer accounts with wrong passwords (issue 13: one
city's PIN lock locked real residents out). Through the real login page: whoever hammers a
resident's account cannot stop that resident logging in from a browser they used before.

What the design (``identity.throttle``) guarantees, and what these tests pin down:

- failures from *other* addresses (one machine or a botnet, one guess per address) never stop
  the resident in a browser that logged in to the account before (its signed device cookie),
  from whatever address, nor at an address where they completed a login in the last 90 days;
- failures from the *resident's own address* (an attacker behind the same office NAT or a
  carrier's shared address) do not stop that browser either: with a device cookie that vouches
  for the account, the per-pair limit counts the failures of (account, that browser), which
  are recorded with each attempt, instead of those of (account, address);
- that browser still meets an exponential wait after its *own* failures (a thief holding it
  cannot guess without limit), and those failures count for its address as well, so dropping
  the cookie does not start afresh.
"""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from madoguchi.identity import throttle
from madoguchi.identity.models import LoginAttempt
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


def test_an_attacker_sharing_the_victims_address_does_not_delay_the_victims_browser(
    victim, victims_browser
):
    statuses = hammer(victim, [HOME], throttle.PAIR_FREE_FAILURES + 5)
    assert statuses[-1] == 429  # the attacker is slowed ...
    # ... and so is anyone at that address without the victim's browser (the pair's wait) ...
    assert attempt(Client(), victim.email, PASSWORD, HOME) == 429
    # ... but not the victim's own browser, at the very same address.
    assert attempt(victims_browser, victim.email, PASSWORD, HOME) == 302
    # The attempts record which browser made them: the attacker's none, the victim's one.
    attempts = list(LoginAttempt.objects.filter(address=HOME).order_by("at", "pk"))
    assert {a.device for a in attempts if not a.success} == {""}
    assert attempts[-1].success
    assert attempts[-1].device == throttle.device_key_of(
        victims_browser.cookies[throttle.DEVICE_COOKIE].value
    )


def test_the_victims_browser_meets_a_wait_after_its_own_failures(victim, victims_browser):
    # A thief with the browser guesses: a few mistakes are free, then each waits longer.
    for _ in range(throttle.PAIR_FREE_FAILURES):
        assert attempt(victims_browser, victim.email, "guess", TRAVEL) == 422
    assert attempt(victims_browser, victim.email, PASSWORD, TRAVEL) == 429
    assert attempt(victims_browser, victim.email, PASSWORD, HOME) == 429
    # Dropping the cookie does not start afresh: those failures count for the address too.
    assert attempt(Client(), victim.email, PASSWORD, TRAVEL) == 429


def test_another_browser_of_the_victim_is_not_held_up_by_the_first_ones_failures(victim):
    phone, laptop = Client(), Client()
    for browser in (phone, laptop):
        assert attempt(browser, victim.email, PASSWORD, HOME) == 302
        browser.post(reverse("portal:account:logout"), REMOTE_ADDR=HOME)
    for _ in range(throttle.PAIR_FREE_FAILURES + 1):
        attempt(phone, victim.email, "typo", HOME)

    assert attempt(phone, victim.email, PASSWORD, HOME) == 429
    assert attempt(laptop, victim.email, PASSWORD, HOME) == 302


def test_a_device_cookie_from_before_device_ids_is_counted_by_address_as_before(victim):
    old_browser = Client()
    old_browser.cookies[throttle.DEVICE_COOKIE] = signing.dumps(
        [throttle.account_key_of(victim.email)], salt="madoguchi.identity.throttle.device"
    )
    hammer(victim, [HOME], throttle.PAIR_FREE_FAILURES + 5)

    assert attempt(old_browser, victim.email, PASSWORD, HOME) == 429
    # It still vouches for the account elsewhere, and the next login gives it a device id.
    assert attempt(old_browser, victim.email, PASSWORD, TRAVEL) == 302
    assert throttle.device_key_of(old_browser.cookies[throttle.DEVICE_COOKIE].value)


def test_a_genuine_cookie_of_another_account_does_not_help_the_attacker(victim):
    attacker = Client()
    resident_create("attacker@example.jp", verified=True)
    assert attempt(attacker, "attacker@example.jp", PASSWORD, HOME) == 302
    attacker.post(reverse("portal:account:logout"), REMOTE_ADDR=HOME)
    statuses = [
        attempt(attacker, victim.email, f"guess-{n}", HOME)
        for n in range(throttle.PAIR_FREE_FAILURES + 2)
    ]

    assert statuses[-1] == 429
    assert attempt(attacker, victim.email, PASSWORD, HOME) == 429
