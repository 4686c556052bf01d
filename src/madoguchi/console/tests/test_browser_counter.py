"""In a real browser: counter staff register a mail application with the keyboard and mouse,
and every page of the way is accessible (axe)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from madoguchi.applications.models import Application
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    STAFF_PASSWORD,
    axe_violations,
    procedure_publish,
    totp_enrol,
    totp_fresh_code,
)

pytestmark = pytest.mark.browser
#: Set to a directory to keep screenshots of each page (to look at them).
SHOTS = os.environ.get("MADOGUCHI_SCREENSHOTS", "")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"counter-{name}.png"), full_page=True)


@pytest.fixture
def counter_page(page):
    organisation = Organisation.objects.get(lg_code="141003")
    reviewer = staff_upsert(
        organisation=organisation,
        email="counter@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
        display_name="窓口 次郎",
    )
    secret = totp_enrol(reviewer.user)
    procedure = procedure_publish(organisation, "juminhyo")
    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill("counter@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(reviewer.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")
    page.procedure = procedure
    return page


def test_staff_register_a_mail_application_with_the_short_form(counter_page):
    page = counter_page
    page.goto("/console/applications/")
    page.get_by_role("link", name="窓口・郵送の申請を受け付ける").click()
    assert axe_violations(page) == []
    shot(page, "start")
    page.get_by_label("手続").select_option(str(page.procedure.pk))
    page.get_by_label("主な項目（氏名・生年月日・住所と概要）").check()
    page.get_by_role("button", name="受付画面を開く").click()
    page.wait_for_selector("h1#form-top")
    assert axe_violations(page) == []
    page.get_by_role("radio", name="郵送").check()
    page.get_by_role(
        "checkbox", name="郵送のため対面確認なし（本人確認書類の写しの同封あり）"
    ).check()
    page.get_by_label("申請の概要（必須）").fill("郵送で届いた住民票の写しの請求")
    page.get_by_role("button", name="確認する").last.click()
    # Nothing typed for the applicant: the page says what is missing, in Japanese.
    assert page.locator("#error-summary").is_visible()
    assert axe_violations(page) == []
    shot(page, "errors")
    page.locator("[name='requester_name.family']").fill("郵送")
    page.locator("[name='requester_name.given']").fill("花子")
    page.locator("[name='requester_name.family_kana']").fill("ユウソウ")
    page.locator("[name='requester_name.given_kana']").fill("ハナコ")
    page.locator("[name='requester_birth_date']").fill("1980-04-01")
    page.locator("[name='requester_address.postal_code']").fill("2310017")
    page.locator("[name='requester_address.prefecture']").select_option("神奈川県")
    page.locator("[name='requester_address.city']").fill("横浜市中区")
    page.locator("[name='requester_address.town']").fill("港町")
    page.locator("[name='requester_address.block']").fill("1-1")
    page.get_by_role("button", name="確認する").last.click()
    page.wait_for_selector("text=受付内容の確認")
    assert axe_violations(page) == []
    shot(page, "confirm")
    page.get_by_role("button", name="登録する").click()
    page.wait_for_selector("text=郵送で受付")
    assert axe_violations(page) == []
    shot(page, "application")
    application = Application.objects.get()
    assert application.channel == "mail"
    assert application.receipt_number in page.content()


def test_the_resident_shows_the_code_and_the_counter_opens_the_draft(counter_page, browser):
    from django.test import Client

    from madoguchi.applications.services import draft_save
    from madoguchi.core.time import now
    from madoguchi.testing import resident_create

    staff = counter_page
    resident = resident_create("counter-resident@example.jp", verified=True)
    draft_save(
        organisation=staff.procedure.organisation,
        procedure=staff.procedure,
        applicant=resident,
        answers={"requester_name": {"family": "下書", "given": "花子"}},
        step="",
        now=now(),
    )
    context = browser.new_context(
        locale="ja-JP", bypass_csp=True, base_url=staff.url.split("/console")[0]
    )
    page = context.new_page()
    page.goto("/")
    client = Client()
    client.force_login(resident)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.url}]
    )
    page.goto("/mypage/")
    page.get_by_role("link", name="窓口で続きを手続する").click()
    assert axe_violations(page) == []
    page.get_by_role("button", name="QRコードを表示する").click()
    page.wait_for_selector("svg")
    assert axe_violations(page) == []
    shot(page, "resident-qr")
    code = page.locator("strong.receipt-number").inner_text()
    context.close()

    staff.goto("/console/counter/")
    staff.get_by_label("コード（8文字）").fill(code)
    staff.get_by_role("button", name="下書きを開く").click()
    staff.wait_for_selector("text=住民の方の下書きから開きました")
    assert staff.locator("[name='requester_name.family']").input_value() == "下書"
    assert axe_violations(staff) == []
    shot(staff, "handoff")
