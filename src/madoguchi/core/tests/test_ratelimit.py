"""The one fixed-window counter: windows aligned to the epoch that roll over, keys that count
apart, the seconds to wait, refusals that count nowhere; and the one client-network rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from madoguchi.core.ratelimit import network_of, window_admit

#: 10 seconds into a minute (and into a ten-minute window).
AT = datetime(2026, 5, 1, 9, 0, 10, tzinfo=UTC)


def _admit(key: str, limit: tuple[int, int], now: datetime) -> int | None:
    return window_admit(checks=[(key, limit)], now=now)


def test_a_key_gets_its_attempts_then_waits_until_its_window_ends():
    for _ in range(3):
        assert _admit("t.a", (3, 60), AT) is None
    assert _admit("t.a", (3, 60), AT) == 50  # the minute ends at 9:01:00
    assert _admit("t.a", (3, 60), AT + timedelta(seconds=49)) == 1
    assert _admit("t.a", (3, 600), AT) == 590  # a ten-minute window ends at 9:10:00


def test_the_wait_is_at_least_a_second():
    late = AT.replace(second=59, microsecond=999_999)
    for _ in range(2):
        assert _admit("t.late", (2, 60), late) is None
    assert _admit("t.late", (2, 60), late) == 1


def test_the_window_rolls_over_to_a_fresh_count():
    for _ in range(3):
        _admit("t.roll", (3, 60), AT)
    assert _admit("t.roll", (3, 60), AT) is not None
    # The next minute starts from nothing, even one second after the refusal's window.
    next_minute = AT.replace(second=0) + timedelta(minutes=1)
    for _ in range(3):
        assert _admit("t.roll", (3, 60), next_minute) is None
    assert _admit("t.roll", (3, 60), next_minute) == 60


def test_windows_are_fixed_not_sliding():
    # Three attempts at the very end of one window do not hold up the start of the next.
    end = AT.replace(second=59)
    for _ in range(3):
        assert _admit("t.fixed", (3, 60), end) is None
    assert _admit("t.fixed", (3, 60), end + timedelta(seconds=1)) is None


def test_keys_count_apart():
    for _ in range(2):
        assert _admit("t.one", (2, 60), AT) is None
    assert _admit("t.one", (2, 60), AT) is not None
    assert _admit("t.two", (2, 60), AT) is None
    assert _admit("t.one.x", (2, 60), AT) is None


def test_a_refused_attempt_counts_nowhere():
    outer, inner = ("t.outer", (5, 60)), ("t.inner", (1, 60))
    assert window_admit(checks=[outer, inner], now=AT) is None
    for _ in range(10):  # refused by the inner limit: the outer one is not used up
        assert window_admit(checks=[outer, inner], now=AT) == 50
    for _ in range(4):
        assert window_admit(checks=[outer], now=AT) is None
    assert window_admit(checks=[outer], now=AT) == 50


def test_the_first_refusing_check_names_the_wait():
    minute, ten = ("t.minute", (1, 60)), ("t.ten", (1, 600))
    assert window_admit(checks=[ten, minute], now=AT) is None
    assert window_admit(checks=[ten, minute], now=AT) == 590
    assert window_admit(checks=[minute], now=AT) == 50


def test_no_checks_admit():
    assert window_admit(checks=[], now=AT) is None


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("not an address", "not an address"),
        ("x" * 5000, "x" * 100),
        ("", ""),
    ],
)
def test_a_client_counts_as_its_network(address, network):
    assert network_of(address) == network
