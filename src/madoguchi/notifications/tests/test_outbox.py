"""Mail leaves through the outbox to a real SMTP server on loopback, and is retried when the
server is away."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from madoguchi.conf.env import email_settings
from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.services import outbox_deliver_email, outbox_enqueue_email
from madoguchi.testing import Inbox, free_port


def subject_of(raw: bytes) -> str:
    return str(make_header(decode_header(message_from_bytes(raw)["Subject"])))


def test_queued_mail_is_delivered_once_to_a_real_smtp_server(db, smtp_server):
    at = now()
    outbox_enqueue_email(
        to="hanako@example.jp", subject="【横浜市】申請を受け付けました", body="本文", now=at
    )

    report = outbox_deliver_email(now=at)
    again = outbox_deliver_email(now=at + timedelta(minutes=5))

    assert report.delivered == 1
    assert again.delivered == 0
    assert len(smtp_server.messages) == 1
    assert subject_of(smtp_server.messages[0]) == "【横浜市】申請を受け付けました"
    assert OutboxMessage.objects.get().delivered_at == at


def test_mail_is_retried_with_backoff_while_the_server_is_away(db, settings):
    port = free_port()  # nothing listens here
    settings.MAILERS = {"default": email_settings(f"smtp://127.0.0.1:{port}")}
    at = now()
    outbox_enqueue_email(to="hanako@example.jp", subject="件名", body="本文", now=at)

    report = outbox_deliver_email(now=at)

    message = OutboxMessage.objects.get()
    assert report.failed == 1
    assert message.delivered_at is None
    assert message.attempts == 1
    assert message.available_at > at
    assert "hanako" not in message.last_error
    # Not due yet: nothing is tried again before the backoff has passed.
    assert outbox_deliver_email(now=at + timedelta(seconds=1)).failed == 0

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        report = outbox_deliver_email(now=message.available_at)
    finally:
        controller.stop()
    assert report.delivered == 1
    assert len(inbox.messages) == 1


def test_smtp_url_is_read_into_mailer_options():
    config = email_settings("smtps://user%40lg.jp:p%40ss@mail.example.lg.jp")
    assert config["OPTIONS"]["host"] == "mail.example.lg.jp"
    assert config["OPTIONS"]["port"] == 465
    assert config["OPTIONS"]["username"] == "user@lg.jp"
    assert config["OPTIONS"]["password"] == "p@ss"
    assert config["OPTIONS"]["use_ssl"] is True
    assert email_settings("")["BACKEND"].endswith("console.EmailBackend")


def test_the_worker_delivers_due_mail_once_and_stops(db, settings, smtp_server):
    from io import StringIO

    from django.core.management import call_command

    outbox_enqueue_email(to="taro@example.jp", subject="件名", body="本文", now=now())
    out, err = StringIO(), StringIO()

    call_command("outbox_worker", "--once", stdout=out, stderr=err)

    assert "配信 1" in out.getvalue(), err.getvalue()
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db(transaction=True)  # the SMTP server's thread reads what was committed
def test_a_worker_holds_only_the_mail_it_is_sending(settings):
    """A worker killed while sending (SIGKILL in the fault benchmark), or a database restart,
    leaves behind exactly what it held at that moment: the mail before is recorded as sent
    (not sent again), the one in flight is leased for :data:`MAIL_LEASE`, the next is free —
    not a whole batch rolled back and mailed twice."""
    import asyncio
    import time

    from django.db import connection

    from madoguchi.notifications.services import MAIL_LEASE

    class Watching(Inbox):
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if len(self.messages) == 1:  # receiving the second mail
                await asyncio.to_thread(snapshot)
            return await super().handle_DATA(server, session, envelope)

    def snapshot() -> None:
        elapsed.append(timedelta(seconds=time.monotonic() - started))
        seen.append(
            list(OutboxMessage.objects.order_by("id").values_list("delivered_at", "available_at"))
        )
        connection.close()

    inbox = Watching()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {"default": email_settings(f"smtp://127.0.0.1:{port}")}
    at = now()
    for n in range(3):
        outbox_enqueue_email(to=f"taro{n}@example.jp", subject="件名", body="本文", now=at)
    seen: list[list[tuple[Any, Any]]] = []
    elapsed: list[timedelta] = []
    started = time.monotonic()
    try:
        report = outbox_deliver_email(now=at)
    finally:
        controller.stop()

    assert report.delivered == 3
    first, second, third = seen[0]
    assert first[0] == at  # recorded before the next was sent
    assert second[0] is None
    assert at < second[1] <= at + elapsed[0] + MAIL_LEASE  # held: the one in flight
    assert third == (None, at)  # free for another worker


def test_the_worker_goes_on_without_waiting_while_batches_come_full(db, monkeypatch, smtp_server):
    """A backlog drains at the transport's speed: after a full batch the next one starts at
    once (before, every batch of 100 mails was followed by the 5-second wait)."""
    from io import StringIO

    from django.core.management import call_command

    from madoguchi.ops.management.commands import outbox_worker

    monkeypatch.setattr(outbox_worker, "MAIL_BATCH", 2)
    for n in range(5):
        outbox_enqueue_email(to=f"taro{n}@example.jp", subject="件名", body="本文", now=now())
    out = StringIO()

    err = StringIO()
    call_command("outbox_worker", "--once", stdout=out, stderr=err)

    assert len(smtp_server.messages) == 5, (out.getvalue(), err.getvalue())
    assert out.getvalue().count("メール: 配信 2") == 2
    assert not OutboxMessage.objects.filter(delivered_at__isnull=True).exists()
