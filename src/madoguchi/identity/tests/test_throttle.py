"""Failed logins are throttled, and an attacker cannot use the throttle to lock a victim out."""

import hashlib
from datetime import timedelta

import pytest
from django.core import signing

from madoguchi.core.time import now
from madoguchi.identity import throttle
from madoguchi.identity.models import LoginAttempt
from madoguchi.identity.throttle import (
    ACCOUNT_FREE_FAILURES,
    ADDRESS_MAX_FAILURES,
    ADDRESS_WINDOW,
    PAIR_FREE_FAILURES,
    account_key_of,
    device_key_of,
    device_token_accounts,
    device_token_make,
    login_allowed,
    login_record,
    login_trusted,
)

VICTIM = "reviewer@yokohama.test"
HOME_ADDRESS = "198.51.100.7"
ATTACKER = "203.0.113.66"

pytestmark = pytest.mark.django_db


def fail(account, address, at, stage="password", device_token=None):
    login_record(
        account=account,
        address=address,
        now=at,
        success=False,
        stage=stage,
        device_token=device_token,
    )


def succeed(account, address, at, stage="totp", device_token=None):
    login_record(
        account=account,
        address=address,
        now=at,
        success=True,
        stage=stage,
        device_token=device_token,
    )


def allowed(account, address, at, device_token=None):
    trusted = login_trusted(account=account, address=address, now=at, device_token=device_token)
    return login_allowed(
        account=account, address=address, now=at, trusted=trusted, device_token=device_token
    )


def test_the_account_key_is_a_hash_of_the_address_whatever_its_case():
    assert account_key_of("Reviewer@Yokohama.TEST ") == account_key_of(VICTIM)
    assert len(account_key_of(VICTIM)) == 64
    assert VICTIM not in account_key_of(VICTIM)
    assert account_key_of(None) == account_key_of("")


def test_a_few_mistakes_cost_nothing():
    at = now()
    for _ in range(PAIR_FREE_FAILURES - 1):
        fail(VICTIM, HOME_ADDRESS, at)

    assert allowed(VICTIM, HOME_ADDRESS, at).allowed


def test_failures_from_one_address_on_one_account_wait_longer_each_time():
    at = now()
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, ATTACKER, at)

    first = allowed(VICTIM, ATTACKER, at)
    assert not first.allowed
    assert first.limit == "pair"
    assert allowed(VICTIM, ATTACKER, at + timedelta(seconds=first.wait_seconds)).allowed

    later = at + timedelta(seconds=first.wait_seconds)
    fail(VICTIM, ATTACKER, later)
    second = allowed(VICTIM, ATTACKER, later)
    assert second.wait_seconds > first.wait_seconds


def test_the_refusal_is_japanese_and_says_when_to_try_again():
    at = now()
    for _ in range(PAIR_FREE_FAILURES + 5):
        fail(VICTIM, ATTACKER, at)

    decision = allowed(VICTIM, ATTACKER, at)

    assert "しばらくログインを受け付けません" in decision.message
    assert "後にもう一度お試しください" in decision.message


def test_an_unknown_address_is_throttled_exactly_like_an_account():
    at = now()
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, ATTACKER, at)
        fail("nobody@yokohama.test", ATTACKER, at)

    assert (
        allowed(VICTIM, ATTACKER, at).wait_seconds
        == allowed("nobody@yokohama.test", ATTACKER, at).wait_seconds
    )


def test_an_attacker_hammering_the_account_does_not_stop_the_victim_at_their_usual_address():
    at = now()
    succeed(VICTIM, HOME_ADDRESS, at - timedelta(days=3))
    for i in range(ACCOUNT_FREE_FAILURES * 5):
        # A botnet: a different address for every guess, so no pair limit ever applies.
        fail(VICTIM, f"203.0.113.{i % 250}", at - timedelta(seconds=i))

    assert not allowed(VICTIM, "192.0.2.200", at).allowed  # a new address is slowed
    assert allowed(VICTIM, "192.0.2.200", at).limit == "account"
    assert allowed(VICTIM, HOME_ADDRESS, at).allowed  # the victim is not


def test_the_victims_browser_cookie_lets_them_in_from_a_new_address():
    at = now()
    for i in range(ACCOUNT_FREE_FAILURES * 3):
        fail(VICTIM, f"203.0.113.{i}", at)
    cookie = device_token_make(account=VICTIM)

    assert allowed(VICTIM, "192.0.2.55", at, device_token=cookie).allowed
    other = device_token_make(account="someone.else@yokohama.test")
    assert not allowed(VICTIM, "192.0.2.55", at, device_token=other).allowed


def test_a_password_alone_does_not_make_an_address_known():
    at = now()
    succeed(VICTIM, ATTACKER, at - timedelta(minutes=1), stage="password")
    for i in range(ACCOUNT_FREE_FAILURES * 3):
        fail(VICTIM, f"203.0.113.{i}", at, stage="totp")

    assert not login_trusted(account=VICTIM, address=ATTACKER, now=at)
    assert not allowed(VICTIM, ATTACKER, at).allowed


def test_an_old_login_from_an_address_no_longer_makes_it_known():
    at = now()
    succeed(VICTIM, HOME_ADDRESS, at - timedelta(days=throttle.KNOWN_ADDRESS_DAYS + 1))

    assert not login_trusted(account=VICTIM, address=HOME_ADDRESS, now=at)


def test_one_address_trying_many_accounts_is_stopped():
    at = now()
    for i in range(ADDRESS_MAX_FAILURES):
        fail(f"user{i}@example.jp", ATTACKER, at)

    decision = allowed("fresh@example.jp", ATTACKER, at)
    assert not decision.allowed
    assert decision.limit == "address"
    assert decision.wait_seconds <= ADDRESS_WINDOW.total_seconds() + 1
    # Nobody else is affected, and the address opens again once the window has passed.
    assert allowed("fresh@example.jp", HOME_ADDRESS, at).allowed
    assert allowed("fresh@example.jp", ATTACKER, at + ADDRESS_WINDOW + timedelta(seconds=1)).allowed


def test_a_known_staff_member_behind_the_same_office_address_is_not_stopped():
    at = now()
    succeed(VICTIM, ATTACKER, at - timedelta(days=1))
    for i in range(ADDRESS_MAX_FAILURES):
        fail(f"user{i}@example.jp", ATTACKER, at)

    assert allowed(VICTIM, ATTACKER, at).allowed


def test_a_complete_login_clears_the_pairs_mistakes():
    at = now()
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, HOME_ADDRESS, at - timedelta(minutes=5))
    succeed(VICTIM, HOME_ADDRESS, at - timedelta(minutes=4))
    fail(VICTIM, HOME_ADDRESS, at)

    assert allowed(VICTIM, HOME_ADDRESS, at).allowed


def test_attempts_refused_while_throttled_do_not_stretch_the_wait():
    at = now()
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, ATTACKER, at)
    wait = allowed(VICTIM, ATTACKER, at).wait_seconds
    for _ in range(50):
        fail(VICTIM, ATTACKER, at, stage=throttle.STAGE_THROTTLED)

    assert allowed(VICTIM, ATTACKER, at).wait_seconds == wait


def test_what_is_recorded_is_the_hash_and_the_address_never_the_typed_text():
    attempt = login_record(
        account="Nobody@Example.jp", address=ATTACKER, now=now(), success=False, stage="password"
    )

    stored = LoginAttempt.objects.get(pk=attempt.pk)
    assert stored.account_key == account_key_of("nobody@example.jp")
    assert "nobody" not in str(stored.__dict__).lower()
    assert stored.address == ATTACKER


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "x" * 5000,
        "ü" * 10,
        signing.dumps([account_key_of(VICTIM)], salt="another.salt"),
        signing.dumps({"not": "a list"}, salt="madoguchi.identity.throttle.device"),
        signing.dumps(
            {"d": "x" * 24, "a": "not a list"}, salt="madoguchi.identity.throttle.device"
        ),
        signing.dumps({"d": "x" * 24, "a": [1, 2]}, salt="another.salt"),
        None,
        12,
    ],
)
def test_a_forged_or_malformed_device_cookie_vouches_for_nobody(token):
    assert device_token_accounts(token) == []
    assert device_key_of(token) == ""


def test_one_browser_remembers_a_few_accounts():
    token = None
    for i in range(throttle.DEVICE_MAX_ACCOUNTS + 2):
        token = device_token_make(account=f"staff{i}@example.jp", previous=token)

    keys = device_token_accounts(token)
    assert len(keys) == throttle.DEVICE_MAX_ACCOUNTS
    assert account_key_of("staff0@example.jp") not in keys
    assert account_key_of(f"staff{throttle.DEVICE_MAX_ACCOUNTS + 1}@example.jp") in keys


# --- Limit 1 by device: a shared address cannot hold up the victim's own browser ---------------

OLD_STYLE = "madoguchi.identity.throttle.device"


def test_failures_from_the_victims_own_address_do_not_hold_up_the_victims_browser():
    at = now()
    browser = device_token_make(account=VICTIM)
    for _ in range(PAIR_FREE_FAILURES + 5):
        fail(VICTIM, HOME_ADDRESS, at)  # an attacker behind the same NAT, without the cookie

    assert allowed(VICTIM, HOME_ADDRESS, at).limit == "pair"
    assert allowed(VICTIM, HOME_ADDRESS, at, device_token=browser).allowed


def test_the_browser_waits_after_its_own_failures_and_they_count_for_its_address_too():
    at = now()
    browser = device_token_make(account=VICTIM)
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, ATTACKER, at, device_token=browser)

    decision = allowed(VICTIM, "192.0.2.1", at, device_token=browser)  # whatever the address
    assert not decision.allowed
    assert decision.limit == "pair"
    assert not allowed(VICTIM, ATTACKER, at).allowed  # dropping the cookie does not help
    # Another browser of the victim is not held up, nor is the wait longer than an address's.
    assert allowed(VICTIM, ATTACKER, at, device_token=device_token_make(account=VICTIM)).allowed
    assert decision.wait_seconds == allowed(VICTIM, ATTACKER, at).wait_seconds
    assert allowed(
        VICTIM, "192.0.2.1", at + timedelta(seconds=decision.wait_seconds), device_token=browser
    ).allowed


def test_a_complete_login_of_the_browser_clears_its_mistakes():
    at = now()
    browser = device_token_make(account=VICTIM)
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, ATTACKER, at - timedelta(minutes=5), device_token=browser)
    succeed(VICTIM, HOME_ADDRESS, at - timedelta(minutes=4), device_token=browser)
    fail(VICTIM, ATTACKER, at, device_token=browser)

    assert allowed(VICTIM, ATTACKER, at, device_token=browser).allowed


def test_a_cookie_of_another_account_counts_by_address():
    at = now()
    own = device_token_make(account="attacker@example.jp")
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, HOME_ADDRESS, at, device_token=own)

    assert not allowed(VICTIM, HOME_ADDRESS, at, device_token=own).allowed
    assert allowed(VICTIM, HOME_ADDRESS, at, device_token=device_token_make(account=VICTIM)).allowed


def test_an_old_cookie_without_a_device_id_works_as_before():
    at = now()
    old = signing.dumps([account_key_of(VICTIM)], salt=OLD_STYLE)
    assert device_token_accounts(old) == [account_key_of(VICTIM)]
    assert device_key_of(old) == ""
    for _ in range(PAIR_FREE_FAILURES):
        fail(VICTIM, HOME_ADDRESS, at)

    assert not allowed(VICTIM, HOME_ADDRESS, at, device_token=old).allowed  # by address
    assert allowed(VICTIM, "192.0.2.1", at, device_token=old).allowed  # still trusted
    renewed = device_token_make(account=VICTIM, previous=old)
    assert device_token_accounts(renewed) == [account_key_of(VICTIM)]
    assert len(device_key_of(renewed)) == 64


def test_a_browser_keeps_its_device_id_and_two_browsers_never_share_one():
    first = device_token_make(account=VICTIM)
    again = device_token_make(account="other@example.jp", previous=first)
    elsewhere = device_token_make(account=VICTIM)

    assert device_key_of(again) == device_key_of(first) != device_key_of(elsewhere)
    assert set(device_token_accounts(again)) == {
        account_key_of(VICTIM),
        account_key_of("other@example.jp"),
    }


def test_the_record_keeps_a_keyed_hash_of_the_device_never_its_id():
    browser = device_token_make(account=VICTIM)
    device_id = signing.loads(browser, salt=OLD_STYLE)["d"]
    attempt = login_record(
        account=VICTIM,
        address=HOME_ADDRESS,
        now=now(),
        success=False,
        stage="password",
        device_token=browser,
    )

    stored = LoginAttempt.objects.get(pk=attempt.pk)
    assert stored.device == device_key_of(browser)
    assert len(stored.device) == 64
    assert device_id not in str(stored.__dict__)
    assert stored.device != hashlib.sha256(device_id.encode()).hexdigest()  # keyed, not plain
    unkeyed = login_record(
        account=VICTIM, address=HOME_ADDRESS, now=now(), success=False, stage="password"
    )
    assert unkeyed.device == ""
