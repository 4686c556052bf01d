"""The portal in a real Chromium: search as you type, keyboard use, and axe-core (AA)."""

from __future__ import annotations

import pytest

from madoguchi.testing import axe_violations

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/search/?q=かまくら",
    "/p/14/",
    "/o/141003/",
    "/o/141011/",
    "/o/999999/",
    "/statistics/",
    "/statistics/prefectures/14/",
    "/statistics/organisations/141003/",
    "/statistics/?fy=abc",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_portal_page_has_no_accessibility_violations(page, path):
    page.goto(path)
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == []


@pytest.mark.parametrize(
    "path",
    [
        "/statistics/?list=guideline-21&fy=2025",
        "/statistics/prefectures/14/?list=guideline-21&fy=2025&sort=-rate",
        "/statistics/organisations/141003/?list=guideline-21&fy=2025",
    ],
)
def test_statistics_pages_with_figures_have_no_accessibility_violations(page, path):
    from madoguchi.tenants.models import Organisation
    from madoguchi.testing import counts_imported

    counts_imported(
        Organisation.objects.get(lg_code="141003"),
        ("eltax-filing", 2025, 0, 1000, 526),
        ("library-reservation", 2025, 0, 200, 180),
    )
    counts_imported(Organisation.objects.get(lg_code="142042"), ("eltax-filing", 2025, 0, 10, 9))
    page.goto(path)
    assert page.locator("h1").count() == 1
    assert page.locator("svg[role=img]").count() >= 1
    assert axe_violations(page) == []


def test_resident_finds_her_town_by_typing_its_reading(page):
    page.goto("/")
    page.get_by_label("手続名・団体名で検索").fill("かまくら")
    result = page.locator("#search-results").get_by_role("link", name="鎌倉市")
    result.wait_for()
    result.click()
    page.wait_for_url("**/o/142042/")
    assert page.locator("h1").inner_text() == "鎌倉市"


def test_search_works_without_javascript(browser, live_server):
    from madoguchi.core.time import now
    from madoguchi.tenants.models import Organisation
    from madoguchi.tenants.services import organisation_master_load

    if not Organisation.objects.exists():
        organisation_master_load(now=now())
    context = browser.new_context(
        java_script_enabled=False, locale="ja-JP", base_url=live_server.url
    )
    no_js = context.new_page()
    no_js.goto("/")
    no_js.get_by_label("手続名・団体名で検索").fill("ﾖｺﾊﾏ")
    no_js.get_by_role("button", name="検索").click()
    no_js.wait_for_url("**/search/?q=*")
    assert no_js.get_by_role("link", name="横浜市").count() == 1
    context.close()


def test_keyboard_user_skips_to_content_and_reaches_a_prefecture(page):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="本文へ移動")
    assert skip.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    # Tab through until the link to 神奈川県 has focus, then follow it with Enter.
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "神奈川県":
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/p/14/")
    assert (
        "神奈川県" in page.locator("h1").inner_text()
        or "かながわ" in page.locator("h1").inner_text()
    )
