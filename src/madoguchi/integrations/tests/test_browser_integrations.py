"""The token and webhook pages in a real Chromium: keyboard and screen-reader friendly (axe)."""

from __future__ import annotations

import pytest

from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import STAFF_PASSWORD, axe_violations, totp_enrol, totp_fresh_code

pytestmark = [pytest.mark.browser, pytest.mark.urls("madoguchi.integrations.tests.urls_spliced")]


@pytest.fixture
def admin_page(page, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    admin = staff_upsert(
        organisation=Organisation.objects.get(lg_code="141003"),
        email="admin@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )
    secret = totp_enrol(admin.user)
    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill("admin@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(admin.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")
    return page


def test_an_admin_issues_a_token_and_registers_a_webhook_without_violations(admin_page):
    page = admin_page
    page.goto("/console/settings/tokens/")
    assert axe_violations(page) == []

    page.get_by_role("button", name="発行する").click()
    assert page.locator("#error-summary").is_visible()
    assert axe_violations(page) == []

    page.get_by_label("名前（用途が分かるように。例: 基幹系連携）").fill("基幹系連携")
    page.get_by_label("申請の一覧・内容の取得（applications:read）").check()
    page.get_by_role("button", name="発行する").click()
    assert page.get_by_label("トークン").input_value().startswith("mdg_")
    assert axe_violations(page) == []

    page.goto("/console/settings/webhooks/")
    assert axe_violations(page) == []
    page.get_by_label("送信先URL").fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="登録する").click()
    assert page.get_by_label("署名用の秘密鍵").input_value().startswith("whsec_")
    assert axe_violations(page) == []
    page.get_by_role("link", name="送信の記録を見る").click()
    assert axe_violations(page) == []
