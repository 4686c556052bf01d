"""The duplicates panel in a real Chromium: axe on the page, a decision made with the
keyboard, on a desktop and a phone-sized window."""

from __future__ import annotations

import os

import pytest

from madoguchi.catalog.constants import Uniqueness
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import User
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    STAFF_PASSWORD,
    axe_violations,
    procedure_with_rule,
    resident_create,
    rule_answers,
    submit,
    totp_enrol,
    totp_fresh_code,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)])
def test_staff_compare_and_decide_in_the_browser(page, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    organisation = Organisation.objects.get(lg_code="141003")
    reviewer = staff_upsert(
        organisation=organisation,
        email="reviewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
    )
    secret = totp_enrol(reviewer.user)
    procedure = procedure_with_rule(organisation, Uniqueness.NONE)
    hanako = resident_create("hanako@example.jp")
    other: User = resident_create("hanako2@example.jp")
    first = submit(procedure, hanako, rule_answers()).application
    second = submit(procedure, other, rule_answers(block="9-9", building="港ハイツ201")).application

    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill("reviewer@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(reviewer.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")

    page.goto(f"/console/applications/{second.pk}/")
    panel = page.locator("#duplicates-section")
    assert first.receipt_number in panel.inner_text()
    assert axe_violations(page) == []
    if os.environ.get("MADOGUCHI_SCREENSHOTS"):
        panel.screenshot(path=f"{os.environ['MADOGUCHI_SCREENSHOTS']}/duplicates-{size[0]}.png")

    panel.get_by_label("重複ではない（別の方・別の申請として扱う）").check()
    panel.get_by_label("判断の理由（2000文字以内）").fill("生年月日は同じだが別人（窓口で確認）")
    panel.get_by_role("button", name="判断を記録する").click()
    page.wait_for_url(f"**/console/applications/{second.pk}/")
    assert "重複の可能性についての判断を記録しました。" in page.content()
    assert (
        "理由: 生年月日は同じだが別人（窓口で確認）"
        in page.locator("#duplicates-section").inner_text()
    )
    assert axe_violations(page) == []
