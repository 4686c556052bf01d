"""Login with the second factor and the admin pages in a real Chromium, checked with axe."""

from __future__ import annotations

import re

import pytest

from madoguchi.core.time import now
from madoguchi.identity import mfa
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import STAFF_PASSWORD, axe_violations

pytestmark = pytest.mark.browser


def test_first_login_enrols_then_the_code_step_and_admin_pages_are_accessible(page):
    organisation = Organisation.objects.get(lg_code="141003")
    staff_upsert(
        organisation=organisation,
        email="admin@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
        display_name="管理 太郎",
    )
    page.goto("/console/login/")
    assert axe_violations(page) == []
    page.get_by_label("メールアドレス").fill("admin@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/enrol/")
    assert axe_violations(page) == []

    # The secret is shown as text (for those who cannot scan the QR code): type it by hand.
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_role("button", name="設定してログイン").click()  # empty first: the error
    page.locator("#error-summary").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("確認コード（6桁の数字）").fill(
        mfa.totp_code_at(secret_b32=secret, instant=now())
    )
    page.get_by_role("button", name="設定してログイン").click()
    page.get_by_role("heading", name="リカバリーコードの控え").wait_for()
    assert len(re.findall(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", page.content())) == 10
    assert axe_violations(page) == []
    page.get_by_role("link", name="控えたので、職員コンソールへ進む").click()
    page.wait_for_url("**/console/")

    for path in ("/console/admin/staff/", "/console/admin/procedures/", "/console/admin/audit/"):
        page.goto(path)
        assert axe_violations(page) == [], path
    page.goto("/console/admin/audit/?since=bad")
    assert axe_violations(page) == []
    page.goto("/console/admin/staff/")
    page.get_by_role("button", name="招待のメールを送る").click()
    page.locator("#error-summary").wait_for()
    assert axe_violations(page) == []

    # Log out and in again: now the code step.
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url("**/console/login/")
    page.get_by_label("メールアドレス").fill("admin@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    assert axe_violations(page) == []
    page.get_by_label("確認コード（6桁の数字）").fill("000000")
    page.get_by_role("button", name="確認してログイン").click()
    page.locator("#error-summary").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("link", name="認証アプリが使えない場合（リカバリーコードでログイン）").click()
    page.wait_for_url("**/console/login/recovery/")
    assert axe_violations(page) == []
