"""Logs: a request id on every line, one access line per request, and no personal data — a
My Number, a name and an e-mail address from a test application never reach a log line,
whatever happens to the application (submitted, viewed by staff, sent back for correction,
mailed) and whatever goes wrong (hostile input, a view that fails with the answers in its
error)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from madoguchi.applications.models import Application
from madoguchi.applications.services import new_idempotency_key
from madoguchi.core.logs import (
    ContextFilter,
    JsonFormatter,
    PlainFormatter,
    RedactFilter,
    exception_text,
    redact,
    request_id_accept,
)
from madoguchi.core.tests import urls_boom
from madoguchi.core.time import now
from madoguchi.identity.tokens import access_token_create
from madoguchi.notifications.services import outbox_deliver_email
from madoguchi.tenants.models import Organisation
from madoguchi.testing import procedure_publish, resident_create, staff_token, valid_answers

NAME = "窓口野 秘匿子"
EMAIL = "secret.applicant@example.jp"


def _not_the_test_mail_server(record: logging.LogRecord) -> bool:
    """The test's receiving SMTP server (aiosmtpd, logger ``mail.log``) stands for the
    operator's mail server, not for Madoguchi: what it logs of the mail it receives is not
    Madoguchi's log."""
    return not record.name.startswith("mail.log")


class Raw(logging.Handler):
    """Every record as it was logged, before any filter: message, arguments and extras."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.addFilter(_not_the_test_mail_server)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        # Django attaches the request to its own records (its text has the query string):
        # RedactFilter drops it before any formatter sees it (checked on the formatted lines).
        skip = {"exc_info", "exc_text", "request"}
        extras = {k: v for k, v in vars(record).items() if k not in skip}
        self.texts.append(f"{message} {extras!r}")


class Formatted(logging.Handler):
    """Every record as the real JSON formatter writes it, after the real filters."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.addFilter(_not_the_test_mail_server)
        self.addFilter(ContextFilter())
        self.addFilter(RedactFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured():
    """Root handlers at DEBUG, every logger at DEBUG and reaching them."""
    root = logging.getLogger()
    raw, formatted = Raw(), Formatted()
    loggers = [root] + [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    saved = [(item, item.level, item.propagate) for item in loggers]
    root.handlers.insert(0, raw)
    root.addHandler(formatted)
    extra = []
    for item in loggers:
        item.setLevel(logging.DEBUG)
        if item is not root and not item.propagate:
            item.handlers.insert(0, raw)
            item.addHandler(formatted)
            extra.append(item)
    try:
        yield raw, formatted
    finally:
        root.removeHandler(raw)
        root.removeHandler(formatted)
        for item in extra:
            item.removeHandler(raw)
            item.removeHandler(formatted)
        for item, level, propagate in saved:
            item.setLevel(level)
            item.propagate = propagate


def _named(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers with every name field holding NAME."""
    for key, value in answers.items():
        if isinstance(value, str) and key.endswith("name") and not key.endswith("kana"):
            answers[key] = NAME
    return answers


@pytest.mark.django_db
def test_no_my_number_name_or_email_reaches_a_log_line(
    captured, settings, smtp_server, admin_staff
):
    raw, formatted = captured
    settings.ROOT_URLCONF = "madoguchi.core.tests.urls_boom"
    organisation = Organisation.objects.get(lg_code="141003")
    procedure = procedure_publish(organisation, "kaigo-hihokensha-saikofu")
    resident = resident_create(EMAIL, verified=True)
    answers = _named(valid_answers(procedure))
    my_number = answers["insured_my_number"]
    assert NAME in answers.values()
    secrets = [my_number, NAME, EMAIL]
    token = access_token_create(user=resident, name="スマホ", scopes=["applications"], now=now())[1]
    client = Client(raise_request_exception=False)

    # Submission (the API, as the resident's app).
    submitted = client.post(
        "/api/v1/applications/",
        data=json.dumps({"procedure": procedure.pk, "answers": answers}, ensure_ascii=False),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": new_idempotency_key()},
    )
    assert submitted.status_code in (200, 201), submitted.content
    application_id = Application.objects.get(receipt_number=submitted.json()["receipt_number"]).pk
    # Staff view it and send it back for correction (the staff API).
    staff = {"Authorization": f"Bearer {staff_token(admin_staff)}"}
    viewed = client.get(f"/api/v1/staff/applications/{application_id}/", headers=staff)
    assert viewed.status_code == 200, viewed.content
    corrected = client.post(
        f"/api/v1/staff/applications/{application_id}/transitions",
        data=json.dumps(
            {
                "to": "correction_requested",
                "expected_status": "submitted",
                "reason": f"{NAME}様、個人番号 {my_number} を確認してください。",
                "fields": ["insured_my_number"],
            },
            ensure_ascii=False,
        ),
        content_type="application/json",
        headers=staff,
    )
    assert corrected.status_code == 200, corrected.content
    # The mails (receipt, correction request) go out through SMTP.
    outbox_deliver_email(now=now())
    assert smtp_server.messages
    # Hostile input: the answers in wrong places, broken JSON with them inside.
    hostile = client.post(
        "/api/v1/applications/",
        data=json.dumps({"procedure": "x", "answers": {"insured_my_number": [NAME, EMAIL]}}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": new_idempotency_key()},
    )
    assert 400 <= hostile.status_code < 500
    broken = client.post(
        f"/search/?q={EMAIL}&n={my_number}",
        data=f'{{"name": "{NAME}", "my_number": {my_number}',
        content_type="application/json",
    )
    assert broken.status_code < 500
    # A view that fails with the answers in its error message.
    urls_boom.SECRET_IN_ERROR.update({"name": NAME, "my_number": my_number, "email": EMAIL})
    try:
        failed = client.post("/boom/", data={"name": NAME, "email": EMAIL, "n": my_number})
    finally:
        urls_boom.SECRET_IN_ERROR.clear()
    assert failed.status_code == 500

    assert any('"logger": "django.request"' in line for line in formatted.lines)
    assert any("RuntimeError" in line for line in formatted.lines)
    access = [json.loads(line) for line in formatted.lines if '"madoguchi.access"' in line]
    assert len(access) == 6  # one per request
    for secret in secrets:
        for line in formatted.lines:
            assert secret not in line, line
        # Nor did our code log it in the first place (the failing view's error aside, which
        # is in no message, only in the exception).
        for text in raw.texts:
            assert secret not in text, text


def test_the_filter_redacts_twelve_digit_numbers_and_email_addresses_in_messages_and_errors():
    assert redact("番号 123456789018 と 1234-5678-9018、１２３４５６７８９０１８") == (
        "番号 [12桁の番号] と [12桁の番号]、[12桁の番号]"
    )
    assert redact("mail to Hanako.Y+x@example.co.jp now") == "mail to [メールアドレス] now"
    assert (
        redact("id 1234567890123 and 12345678901 stay") == "id 1234567890123 and 12345678901 stay"
    )
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "for %s (%s)", ("hanako@example.jp", 123456789018), None
    )
    # In variables: a traceback shows the source line, and real code holds no answers.
    message = "answers 123456789018 hanako@example.jp 窓口野"
    try:
        raise ValueError(message)
    except ValueError as error:
        record.exc_info = (type(error), error, error.__traceback__)
    assert RedactFilter().filter(record)
    assert record.getMessage() == "for [メールアドレス] ([12桁の番号])"
    text = record.exc_text or ""
    assert "ValueError" in text
    assert "窓口野" not in text
    assert "123456789018" not in text
    line = PlainFormatter().format(record)
    assert "hanako" not in line
    assert "123456789018" not in line


def test_an_exception_is_logged_with_its_type_and_frames_but_not_its_message():
    email, name = "hanako@example.jp", "窓口野 秘匿子"
    try:
        try:
            raise KeyError(email)
        except KeyError as inner:
            raise RuntimeError(name) from inner
    except RuntimeError as error:
        text = exception_text((type(error), error, error.__traceback__))
    assert "RuntimeError" in text
    assert "KeyError" in text
    assert "test_logs.py" in text
    assert "窓口野" not in text
    assert "hanako" not in text


def test_a_request_gets_an_id_in_its_response_and_a_safe_incoming_id_is_kept(client, db):
    answer = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21"})
    assert answer["X-Request-ID"] == "lb-7f3a9c21"
    made = client.get("/healthz", headers={"X-Request-ID": "hanako@example.jp <script>"})
    assert made["X-Request-ID"] != "hanako@example.jp <script>"
    assert request_id_accept(made["X-Request-ID"]) == made["X-Request-ID"]
    for hostile in ["", "short", "a" * 65, "id with space", "改行\n", "123456789018"]:
        assert request_id_accept(hostile) != hostile


def test_every_line_of_a_request_carries_its_id_and_the_access_line_no_query(captured, client, db):
    _, formatted = captured
    client.get("/healthz?q=hanako@example.jp", headers={"X-Request-ID": "req-12345678"})
    lines = [json.loads(line) for line in formatted.lines]
    access = [line for line in lines if line["logger"] == "madoguchi.access"]
    assert access[-1]["request_id"] == "req-12345678"
    assert access[-1]["route"] == "healthz"
    assert access[-1]["status"] == 200
    assert access[-1]["method"] == "GET"
    assert access[-1]["role"] == "all"
    assert "duration_ms" in access[-1]
    assert "hanako" not in json.dumps(access[-1])
    # ISO 8601 with the zone's offset, to the millisecond: 2026-12-05T12:35:43.114+09:00.
    stamp = datetime.fromisoformat(access[-1]["time"])
    assert stamp.tzinfo is not None
    assert "T" in access[-1]["time"]
    assert len(access[-1]["time"].split("T")[1].split("+")[0].split("-")[0]) == len("12:35:43.114")
