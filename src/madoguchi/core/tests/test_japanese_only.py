"""The staff console stays Japanese whatever the browser asks for; the portal follows it."""

from __future__ import annotations


def test_the_console_ignores_an_english_browser(client, db):
    page = client.get("/console/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert '<html lang="ja"' in page.content.decode()
    assert "/i18n/setlang/" not in page.content.decode()


def test_the_portal_follows_an_english_browser(client, db):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en"' in page.content.decode()
