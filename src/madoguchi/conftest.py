"""Fixtures named after the actors of the design notes.

The organisation master is loaded once per test session into the test database (it is
read-only reference data for most tests); each test still runs in its own transaction, so a
test that changes the master (a merger) leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def _transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    names = set(getattr(item, "fixturenames", ()))
    return bool(
        (marker is not None and marker.kwargs.get("transaction"))
        or {"transactional_db", "live_server", "page"} & names
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Put the organisation master back after a transactional test emptied the database.

    Such tests (threads, a live server) end with a flush of every table, and the tests after
    them expect the master that ``django_db_setup`` loaded once; reloading here, after the
    flush and outside any test transaction, keeps the order of tests irrelevant.
    """
    yield
    if nextitem is None or not _transactional(item):
        return
    from pytest_django.plugin import blocking_manager_key

    with item.config.stash[blocking_manager_key].unblock():
        if not Organisation.objects.exists():
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
    """The reviewer of 横浜市, logged in to the console with both factors."""
    client.force_login(staff_member.user)
    return client


def mark_mfa_complete(client: Client, user: Any) -> None:
    """Mark the client's session as a console login with both factors (what the TOTP step
    does), for tests that are not about logging in."""
    from madoguchi.console.access import MFA_SESSION_KEY

    session = client.session
    session[MFA_SESSION_KEY] = user.pk
    session.save()


@pytest.fixture(autouse=True)
def _force_login_is_a_complete_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Client.force_login`` stands for a finished login, second factor included.

    Django's ``force_login`` exists to skip authentication in tests that are not about it;
    without this every console test would first have to play the TOTP step. Tests of the
    login itself use the real password and code steps (console/tests/test_mfa.py), and a
    test that wants a session without the second factor removes the mark.
    """
    original = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        mark_mfa_complete(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@dataclass
class TOTPStaff:
    """A staff member with a confirmed authenticator, and what their app would show."""

    staff: Staff
    secret: str

    @property
    def user(self) -> Any:
        return self.staff.user

    @property
    def email(self) -> str:
        return str(self.staff.user.email)

    def code(self, at: datetime | None = None) -> str:
        from madoguchi.identity.mfa import totp_code_at

        return totp_code_at(secret_b32=self.secret, instant=at or now())


def totp_enrol(user: Any) -> str:
    """Enrol ``user``'s authenticator as of ten minutes ago (its first code spent then);
    returns the base32 secret."""
    from madoguchi.identity.mfa import totp_begin_enrolment, totp_code_at, totp_confirm

    enrolled_at = now() - timedelta(minutes=10)
    secret = totp_begin_enrolment(user=user, now=enrolled_at)
    code = totp_code_at(secret_b32=secret, instant=enrolled_at)
    assert totp_confirm(user=user, code=code, now=enrolled_at)
    return secret


def totp_fresh_code(user: Any, secret: str) -> str:
    """A code the server accepts now: the current step's, or the next step's (still inside
    the window) when the current one was already used by an earlier login of the test."""
    from madoguchi.identity.mfa import STEP_SECONDS, step_of, totp_code_at
    from madoguchi.identity.models import StaffTOTP

    last_step = StaffTOTP.objects.get(user=user).last_step
    instant = now()
    if step_of(instant) <= last_step:
        instant += timedelta(seconds=STEP_SECONDS)
    return totp_code_at(secret_b32=secret, instant=instant)


@pytest.fixture
def staff_with_totp(staff_member: Staff) -> TOTPStaff:
    """The reviewer of 横浜市 with TOTP enrolled ten minutes ago."""
    return TOTPStaff(staff=staff_member, secret=totp_enrol(staff_member.user))


def console_log_in(client: Client, email: str, password: str = STAFF_PASSWORD, **extra: str) -> Any:
    """The whole console login as a person does it: the password, then the authenticator's
    code (an account without one is enrolled first). Returns the last response."""
    from madoguchi.identity.mfa import totp_is_confirmed
    from madoguchi.identity.models import StaffTOTP, User

    typed = email.strip().lower()
    plausible = len(typed) < 255 and "\x00" not in typed  # PostgreSQL refuses NUL in a query
    user = User.objects.filter(email=typed).first() if plausible else None
    secrets_of = getattr(client, "_totp_secrets", {})
    if user is not None and not totp_is_confirmed(user=user):
        StaffTOTP.objects.filter(user=user).delete()
        secrets_of[user.pk] = totp_enrol(user)
    client._totp_secrets = secrets_of  # type: ignore[attr-defined]
    response = client.post("/console/login/", {"username": email, "password": password, **extra})
    if response.status_code != 302 or response["Location"] != "/console/login/code/":
        return response
    assert user is not None
    secret = secrets_of[user.pk]
    return client.post("/console/login/code/", {"code": totp_fresh_code(user, secret)})


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
