"""Fixtures named after the actors of the design notes.

The organisation master is loaded once per test session into the test database (it is
read-only reference data for most tests); each test still runs in its own transaction, so a
test that changes the master (a merger) leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.services import organisation_master_load

STAFF_PASSWORD = "correct horse battery staple 42"  # noqa: S105 (test-only)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        organisation_master_load(now=now())


@pytest.fixture
def organisation(db: None) -> Organisation:
    """横浜市 (141003)."""
    return Organisation.objects.get(lg_code="141003")


@pytest.fixture
def other_organisation(db: None) -> Organisation:
    """鎌倉市 (142042)."""
    return Organisation.objects.get(lg_code="142042")


@pytest.fixture
def staff_member(organisation: Organisation) -> Staff:
    return staff_upsert(
        organisation=organisation,
        email="reviewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
        display_name="審査 一郎",
    )


@pytest.fixture
def other_staff(other_organisation: Organisation) -> Staff:
    return staff_upsert(
        organisation=other_organisation,
        email="reviewer@kamakura.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
        display_name="審査 花子",
    )


@pytest.fixture
def staff_client(client: Client, staff_member: Staff) -> Client:
    client.force_login(staff_member.user)
    return client


# --- Real browser (Debian's chromium driven by Playwright; no browser downloads) -------------

CHROMIUM = os.environ.get("MADOGUCHI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium for the session.

    Without a Chromium the browser tests are skipped, except where ``MADOGUCHI_REQUIRE_BROWSER``
    is set (CI sets it), so that a missing browser can never pass CI silently.
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("MADOGUCHI_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}: browser tests skipped")
    # Playwright's sync API runs an event loop in this thread; the ORM calls our fixtures make
    # are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh page against the live server, with the organisation master present.

    ``live_server`` needs a transactional database, which is emptied after each such test,
    so the master is loaded here when it is missing.
    """
    if not Organisation.objects.exists():
        organisation_master_load(now=now())
    # bypass_csp lets axe-core be injected; the pages' own CSP is tested without a browser.
    context = browser.new_context(locale="ja-JP", bypass_csp=True, base_url=live_server.url)
    browser_page = context.new_page()
    yield browser_page
    context.close()


def axe_violations(page: Any) -> list[str]:
    """Run axe-core (WCAG 2.x A/AA rules) on the page; return one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {
                "type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
            },
            "resultTypes": ["violations"],
        },
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target']) for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]
