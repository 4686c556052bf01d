"""A resident registers a passkey and logs in with it in a real Chromium, through the real
pages and the real script, with the Chrome DevTools Protocol's virtual authenticator (a
platform authenticator with user verification: a fingerprint that always matches)."""

from __future__ import annotations

from typing import Any

import pytest

from madoguchi.identity.models import PasskeyCredential
from madoguchi.testing import PASSWORD, axe_violations, reference_data_load, resident_create

pytestmark = pytest.mark.browser


def test_a_resident_registers_a_passkey_and_logs_in_with_it(browser: Any, live_server: Any):
    reference_data_load()
    user = resident_create("passkey.e2e@example.jp", verified=True)
    # The pages' own CSP stays on: the script is a file of this site, never inline.
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    page.goto("/account/login/")
    page.get_by_label("メールアドレス").fill(user.email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_url("**/mypage/")

    page.get_by_role("link", name="パスキー", exact=True).click()
    page.wait_for_url("**/account/passkeys/")
    page.get_by_label("名前（どの端末のパスキーか分かるように）").fill("テスト端末")
    page.get_by_role("button", name="この端末にパスキーを登録する").click()
    page.get_by_text("パスキーを登録しました").wait_for()
    assert page.get_by_role("cell", name="テスト端末", exact=True).count() == 1
    assert axe_violations(page) == []
    stored = PasskeyCredential.objects.get(user=user)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["isResidentCredential"] is True

    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url(live_server.url + "/")
    page.goto("/account/login/")
    assert axe_violations(page) == []
    page.get_by_role("button", name="パスキーでログイン").click()
    page.wait_for_url("**/mypage/")

    page.goto("/account/identity/")
    assert axe_violations(page) == []
    levels = page.locator("dl.facts").inner_text()
    assert "当人認証\nレベル2" in levels or "当人認証レベル2" in levels.replace("\n", "")
    assert "パスキー" in levels
    stored.refresh_from_db()
    assert stored.last_used_at is not None
    context.close()


def test_without_javascript_the_pages_say_passkeys_need_it(browser: Any, live_server: Any):
    reference_data_load()
    context = browser.new_context(
        java_script_enabled=False, locale="ja-JP", base_url=live_server.url
    )
    page = context.new_page()
    page.goto("/account/login/")
    assert page.get_by_role("button", name="パスキーでログイン").is_hidden()
    assert "JavaScript が動くブラウザーが必要です" in page.content()
    # The password login is there and works without a script.
    assert page.get_by_role("button", name="ログイン", exact=True).is_visible()
    context.close()
