"""Fixtures named after the actors of the design notes.

The organisation master and the national templates are loaded once per test session into the
test database (read-only reference data for most tests); each test still runs in its own
transaction, so a test that changes them (a merger, a new template version) leaves nothing
behind. The factories behind these fixtures live in :mod:`madoguchi.testing`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.definitions import national_life_events, parse_template_text
from madoguchi.catalog.models import Procedure, TemplateVersion
from madoguchi.catalog.services import (
    TemplateLoadReport,
    procedure_adopt,
    template_version_publish,
)
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    FEE_TEMPLATE,
    FEE_TEMPLATE_YAML,
    LEVEL_ONE,
    NINTEI,
    SESSION_TEMPLATE_REPORT,
    STAFF_PASSWORD,
    Inbox,
    TOTPStaff,
    axe_violations,
    console_log_in,
    console_login,
    free_port,
    life_events_by_slug,
    national_templates_remove,
    procedure_publish,
    reference_data_load,
    resident_create,
    staff_create,
    totp_enrol,
    totp_fresh_code,
)

# Re-exported for tests written before the helpers moved to madoguchi.testing (import them
# from there: a conftest is not a library).
__all__ = [
    "STAFF_PASSWORD",
    "axe_violations",
    "console_log_in",
    "console_login",
    "totp_enrol",
    "totp_fresh_code",
]


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashing() -> Iterator[None]:
    """Passwords hashed with argon2 at its smallest cost (see QuickArgon2PasswordHasher);
    production's cost is checked by the settings tests."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["madoguchi.testing.QuickArgon2PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """The organisation master and the national templates, once for the session."""
    with django_db_blocker.unblock():
        reference_data_load()


@pytest.fixture(autouse=True)
def _cache_cleared() -> None:
    """Each test starts with an empty cache: the public statistics are cached for a minute,
    and a figure cached by one test must not answer for the rolled-back data of another."""
    from django.core.cache import cache

    cache.clear()


def _transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    names = set(getattr(item, "fixturenames", ()))
    return bool(
        (marker is not None and marker.kwargs.get("transaction"))
        or {"transactional_db", "live_server", "page"} & names
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Put the reference data back after a transactional test emptied the database.

    Such tests (threads, a live server) end with a flush of every table, and the tests after
    them expect the master and the templates that ``django_db_setup`` loaded once; reloading
    here, after the flush and outside any test transaction, keeps the order of tests irrelevant.
    """
    yield
    if nextitem is None or not _transactional(item):
        return
    from pytest_django.plugin import blocking_manager_key

    with item.config.stash[blocking_manager_key].unblock():
        reference_data_load()


# --- The national catalogue (loaded once per session; these pick from it) ------------------


@pytest.fixture
def templates_loaded(db: None) -> TemplateLoadReport:
    """The national templates shipped in ``catalog/national``, loaded by the real
    ``template_load_all`` once for the session (the root conftest's ``django_db_setup``);
    returns what that first load, into an empty catalogue, reported."""
    report: TemplateLoadReport = SESSION_TEMPLATE_REPORT[0]
    return report


@pytest.fixture
def nintei(templates_loaded: TemplateLoadReport) -> TemplateVersion:
    """児童手当の認定請求, the newest version shipped."""
    return (
        TemplateVersion.objects.select_related("template", "form_version")
        .filter(template__slug=NINTEI)
        .latest("version")
    )


@pytest.fixture
def fee_template(templates_loaded: TemplateLoadReport) -> TemplateVersion:
    """A template with a fee parameter (住民票の写しの交付請求, for tests)."""
    events = {event["slug"] for event in national_life_events()}
    parsed = parse_template_text(FEE_TEMPLATE_YAML, "test-juminhyo.yaml", events)
    template_version_publish(parsed=parsed, life_events=life_events_by_slug(), now=now())
    return TemplateVersion.objects.select_related("template", "form_version").get(
        template__slug=FEE_TEMPLATE, version=1
    )


@pytest.fixture
def juminhyo(templates_loaded: TemplateLoadReport) -> TemplateVersion:
    """The shipped 住民票 template, where one ships (skipped where no such file exists)."""
    version = (
        TemplateVersion.objects.select_related("template", "form_version")
        .filter(template__slug__startswith="juminhyo")
        .order_by("template__slug", "-version")
        .first()
    )
    if version is None:
        pytest.skip("no national juminhyo template ships in catalog/national")
    return version


@pytest.fixture
def adopted(organisation: Organisation, nintei: TemplateVersion) -> Procedure:
    """横浜市 has adopted 児童手当の認定請求 (準備中)."""
    return procedure_adopt(organisation=organisation, template_version=nintei, now=now())


@pytest.fixture
def published(adopted: Procedure, organisation: Organisation) -> Procedure:
    """横浜市's 児童手当の認定請求, published — at level 1 without a signature
    (:data:`madoguchi.testing.LEVEL_ONE`): the stories using it are not about identity."""
    published = procedure_set_status(
        organisation=organisation, procedure=adopted, status=ProcedureStatus.PUBLISHED
    )
    Procedure.objects.filter(pk=published.pk).update(**LEVEL_ONE, updated_at=now())
    published.refresh_from_db()
    return published


@pytest.fixture
def shipped(adopted: Procedure, organisation: Organisation) -> Procedure:
    """横浜市's 児童手当の認定請求, published with the levels it ships with: 身元確認レベル3,
    当人認証レベル2 and a My Number card signature."""
    return procedure_set_status(
        organisation=organisation, procedure=adopted, status=ProcedureStatus.PUBLISHED
    )


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Inbox]:
    """A real SMTP server on loopback that the platform's mail goes to; yields its inbox."""
    from aiosmtpd.controller import Controller

    from madoguchi.conf.env import email_settings

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {"default": email_settings(f"smtp://127.0.0.1:{port}")}
    yield inbox
    controller.stop()


@pytest.fixture
def no_templates(db: None) -> None:
    """A platform where no national template was loaded yet (for this test only)."""
    national_templates_remove()


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
    """審査担当 (reviewer) of 横浜市."""
    return staff_create(
        organisation,
        email="reviewer@yokohama.test",
        role=StaffRole.REVIEWER,
        display_name="審査 一郎",
    )


@pytest.fixture
def other_staff(other_organisation: Organisation) -> Staff:
    """審査担当 (reviewer) of 鎌倉市."""
    return staff_create(
        other_organisation,
        email="reviewer@kamakura.test",
        role=StaffRole.REVIEWER,
        display_name="審査 花子",
    )


@pytest.fixture
def admin_staff(organisation: Organisation) -> Staff:
    """団体管理者 of 横浜市."""
    return staff_create(
        organisation, email="admin@yokohama.test", role=StaffRole.ADMIN, display_name="管理 太郎"
    )


@pytest.fixture
def other_admin(other_organisation: Organisation) -> Staff:
    """団体管理者 of 鎌倉市."""
    return staff_create(
        other_organisation,
        email="admin@kamakura.test",
        role=StaffRole.ADMIN,
        display_name="管理 花子",
    )


@pytest.fixture
def staff_client(client: Client, staff_member: Staff) -> Client:
    """The reviewer of 横浜市, logged in to the console with both factors.

    ``client.force_login`` alone leaves the second factor undone (the console sends such a
    session to the code step); :func:`madoguchi.testing.console_login` does both.
    """
    return console_login(client, staff_member.user)


@pytest.fixture
def admin_client(admin_staff: Staff) -> Client:
    """The admin of 横浜市, logged in to the console with both factors, in a browser of their
    own (a test may hold it beside ``staff_client`` or an anonymous ``client``)."""
    return console_login(Client(), admin_staff.user)


@pytest.fixture
def resident(db: None) -> Any:
    """花子, a resident with an account (password :data:`madoguchi.testing.PASSWORD`)."""
    return resident_create("hanako@example.jp")


@pytest.fixture
def other_resident(db: None) -> Any:
    """太郎, another resident."""
    return resident_create("taro@example.jp")


@pytest.fixture
def procedure(organisation: Organisation) -> Any:
    """住民票の写しの交付請求, adopted and published by 横浜市 (at level 1, no signature)."""
    return procedure_publish(organisation, "juminhyo")


@pytest.fixture
def procedure_shipped(organisation: Organisation) -> Any:
    """住民票の写しの交付請求 of 横浜市 with the levels it ships with (level 3)."""
    return procedure_publish(organisation, "juminhyo", as_shipped=True)


@pytest.fixture
def staff_with_totp(staff_member: Staff) -> TOTPStaff:
    """The reviewer of 横浜市 with TOTP enrolled ten minutes ago."""
    return TOTPStaff(staff=staff_member, secret=totp_enrol(staff_member.user))


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
    reference_data_load()
    # bypass_csp lets axe-core be injected; the pages' own CSP is tested without a browser.
    context = browser.new_context(locale="ja-JP", bypass_csp=True, base_url=live_server.url)
    browser_page = context.new_page()
    yield browser_page
    context.close()
