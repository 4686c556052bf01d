"""Nobody can turn the platform into a mail cannon: requested mail is limited per recipient
and per client address, and the mail the platform must send is never refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.ratelimit import (
    CLIENT_LIMITS,
    RECIPIENT_LIMITS,
    MailRateLimited,
    client_key,
    recipient_key,
)
from madoguchi.notifications.services import outbox_enqueue_email

PER_RECIPIENT = RECIPIENT_LIMITS[0][1]
RECIPIENT_WINDOW = RECIPIENT_LIMITS[0][0]


def request(to: str, at, client: str = "192.0.2.10"):
    return outbox_enqueue_email(to=to, subject="確認", body="リンク", now=at, client_address=client)


def test_requested_mail_to_one_address_stops_at_the_limit_and_says_until_when(db):
    at = now()
    for n in range(PER_RECIPIENT):
        request("victim@example.jp", at + timedelta(seconds=n))

    with pytest.raises(MailRateLimited) as refused:
        request("victim@example.jp", at + timedelta(minutes=1))

    assert OutboxMessage.objects.count() == PER_RECIPIENT  # nothing stored for the refusal
    assert refused.value.retry_at == at + RECIPIENT_WINDOW  # when the first one leaves
    assert "10分間に3通まで" in str(refused.value)
    assert "以降に、もう一度お試しください" in str(refused.value)
    # The window slides: once the oldest mail is 10 minutes old, one more may go.
    request("victim@example.jp", at + RECIPIENT_WINDOW + timedelta(seconds=1))


def test_a_refused_request_does_not_push_the_retry_time_away(db):
    at = now()
    for n in range(PER_RECIPIENT):
        request("victim@example.jp", at + timedelta(seconds=n))
    for n in range(20):
        with pytest.raises(MailRateLimited) as refused:
            request("victim@example.jp", at + timedelta(minutes=1, seconds=n))

    assert refused.value.retry_at == at + RECIPIENT_WINDOW


def test_plus_tags_and_case_do_not_make_a_new_recipient(db):
    at = now()
    for n, address in enumerate(
        ("Victim@Example.jp", "victim+1@example.jp", "victim+2@example.jp")
    ):
        request(address, at + timedelta(seconds=n))

    with pytest.raises(MailRateLimited):
        request("VICTIM+anything@example.jp", at + timedelta(seconds=10))
    assert recipient_key("a+b@example.jp") == recipient_key("A@example.jp")
    assert recipient_key("a@example.jp") != recipient_key("b@example.jp")


def test_one_client_is_limited_across_different_recipients(db):
    at = now()
    most = CLIENT_LIMITS[0][1]
    for n in range(most):
        request(f"person{n}@example.jp", at + timedelta(seconds=n), client="198.51.100.4")

    with pytest.raises(MailRateLimited) as refused:
        request("one.more@example.jp", at + timedelta(minutes=5), client="198.51.100.4")

    assert f"同じ接続元からは1時間に{most}通まで" in str(refused.value)
    request("one.more@example.jp", at + timedelta(minutes=5), client="198.51.100.5")


def test_an_ipv6_client_counts_by_its_64_network():
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.1") == client_key("192.0.2.1")


def test_rows_keep_hashes_never_the_client_address(db):
    row = request("hanako@example.jp", now(), client="192.0.2.77")

    assert row.client_key == client_key("192.0.2.77")
    assert "192.0.2.77" not in row.client_key
    assert "hanako" not in row.recipient_key


def test_mail_the_platform_must_send_is_never_refused_nor_counted(db):
    at = now()
    for n in range(PER_RECIPIENT):
        request("hanako@example.jp", at + timedelta(seconds=n))

    # A decision notice or a receipt (no client address) still goes out …
    notice = outbox_enqueue_email(to="hanako@example.jp", subject="決定", body="通知", now=at)
    assert notice.recipient_key == ""
    # … and many of them do not use up the requested-mail allowance of someone else.
    for _ in range(30):
        outbox_enqueue_email(to="taro@example.jp", subject="決定", body="通知", now=at)
    request("taro@example.jp", at)
