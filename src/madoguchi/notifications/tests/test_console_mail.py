"""`make run` prints mail readably: the Japanese subject, body and links as they are."""

from __future__ import annotations

import io

from django.core.mail import EmailMessage

from madoguchi.notifications.console import EmailBackend


def test_console_mail_is_printed_decoded():
    stream = io.StringIO()
    message = EmailMessage(
        subject="【横浜市】申請を受け付けました（受付番号 141003-261126-00000001）",
        body="手続: 住民票の写し\nhttps://example.jp/account/verify/abc/\n",
        from_email="窓口 <no-reply@madoguchi.invalid>",
        to=["hanako@example.jp"],
    )
    assert EmailBackend(stream=stream).send_messages([message]) == 1
    printed = stream.getvalue()
    assert "受付番号 141003-261126-00000001" in printed
    assert "https://example.jp/account/verify/abc/" in printed
    assert "To: hanako@example.jp" in printed
