"""The staff console in a real Chromium: an admin previews a form, keyboard only, with axe."""

from __future__ import annotations

import pytest

from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import STAFF_PASSWORD, axe_violations, totp_enrol, totp_fresh_code

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(page):
    organisation = Organisation.objects.get(lg_code="141003")
    admin = staff_upsert(
        organisation=organisation,
        email="admin@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )
    secret = totp_enrol(admin.user)
    procedure = procedure_adopt(
        organisation=organisation,
        template_version=template_version_get(slug="jidou-teate-nintei"),
        now=now(),
    )
    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill("admin@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(admin.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")
    page.procedure_id = procedure.pk
    return page


def test_console_pages_have_no_accessibility_violations(admin_page):
    for path in (
        "/console/",
        "/console/procedures/",
        "/console/templates/",
        f"/console/procedures/{admin_page.procedure_id}/",
        "/console/statistics/141003/?list=guideline-21&fy=2025",
    ):
        admin_page.goto(path)
        assert axe_violations(admin_page) == [], path


def test_admin_previews_a_form_and_is_led_to_each_error(admin_page):
    admin_page.goto(f"/console/procedures/{admin_page.procedure_id}/preview/")
    assert axe_violations(admin_page) == []
    admin_page.get_by_role("button", name="次へ").click()
    summary = admin_page.locator("#error-summary")
    summary.wait_for()
    assert "請求者の氏名を入力してください。" in summary.inner_text()
    assert axe_violations(admin_page) == []
    # The summary links to the field: following it puts the field in view.
    summary.get_by_role("link", name="加入している年金を選んでください。").click()
    assert admin_page.url.endswith("#f-pension_type")


def test_keyboard_user_fills_a_composite_name_and_enter_goes_to_next_step(admin_page):
    admin_page.goto(f"/console/procedures/{admin_page.procedure_id}/preview/")
    admin_page.get_by_label("姓", exact=True).first.focus()
    admin_page.keyboard.type("髙橋")
    admin_page.keyboard.press("Tab")
    admin_page.keyboard.type("𠮷子")
    admin_page.keyboard.press("Tab")
    admin_page.keyboard.type("たかはし")
    admin_page.keyboard.press("Enter")
    # Enter submits "次へ" (not a group button); the server keeps what was typed and
    # normalises nothing yet, but says what is still missing.
    admin_page.locator("#error-summary").wait_for()
    assert admin_page.get_by_label("姓", exact=True).first.input_value() == "髙橋"
    assert admin_page.get_by_label("名", exact=True).first.input_value() == "𠮷子"


def test_the_export_page_offers_bank_accounts_apart_from_my_number_on_a_phone_too(admin_page):
    """児童手当 holds both: each has its own checkbox and purpose; errors lead to the field."""
    admin_page.goto(f"/console/exports/{admin_page.procedure_id}/")
    assert axe_violations(admin_page) == []
    assert admin_page.get_by_role("group", name="振込先口座").is_visible()
    assert admin_page.get_by_role("group", name="個人番号（マイナンバー）").is_visible()
    assert admin_page.get_by_label("選択肢の名前（例: 現在の住所）").is_checked()

    admin_page.get_by_label("口座番号・名義を伏せずに出力する").check()
    admin_page.get_by_role("button", name="出力する").click()
    summary = admin_page.locator("#error-summary")
    summary.wait_for()
    assert "口座を伏せずに出力するときは、利用目的を入力してください" in summary.inner_text()
    assert axe_violations(admin_page) == []

    admin_page.set_viewport_size({"width": 375, "height": 800})
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 375
    assert axe_violations(admin_page) == []
