"""A live form in a real Chromium: questions shown and hidden by their rules, the address filled
from the postal code and 「児童を追加」 focusing the new child — without a page load, the server
deciding each time; axe-core (AA) on the step in each state; and the same under the site's own
Content Security Policy (htmx and the live script load from the platform, nothing inline).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation
from madoguchi.testing import axe_violations, procedure_publish

pytestmark = pytest.mark.browser


def jidou() -> Procedure:
    return procedure_publish(Organisation.objects.get(lg_code="141003"), "jidou-teate-nintei")


def log_in(context: Any, base_url: str, email: str) -> None:
    user = User.objects.create_user(email, "correct horse battery 42")
    user.email_verified_at = now()
    user.save(update_fields=["email_verified_at"])
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )


def form_url(procedure: Procedure) -> str:
    return reverse("portal:apply:form", args=[procedure.organisation.lg_code, procedure.pk])


def mark_page(page: Any) -> None:
    """A mark that a page load would wipe: it must survive every live change."""
    page.evaluate("window.__sameDocument = true")


def same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def settle(page: Any) -> None:
    """Wait until htmx has no request in flight."""
    page.wait_for_function("!document.querySelector('.htmx-request')")


def test_spouse_questions_postal_code_and_a_new_child_live(page, live_server):
    procedure = jidou()
    log_in(page.context, live_server.url, "hanako.live@example.jp")
    violations: dict[str, list[str]] = {}

    def axe(name: str) -> None:
        found = axe_violations(page)
        if found:
            violations[name] = found

    page.goto(form_url(procedure))
    page.wait_for_function("window.htmx !== undefined")
    mark_page(page)
    spouse = page.locator("#f-spouse_name-cond")
    # Not answered yet: the spouse questions wait until 「はい」.
    assert spouse.is_hidden()
    axe("step 1")

    page.get_by_label("はい", exact=True).check()
    spouse.wait_for(state="visible")
    assert page.get_by_role("group", name="配偶者の氏名").is_visible()
    axe("step 1, spouse shown")

    page.get_by_label("いいえ", exact=True).check()
    spouse.wait_for(state="hidden")
    assert page.locator("#f-spouse_my_number-cond").is_hidden()
    assert same_document(page)

    # The postal code fills the prefecture, the city and the town as it is typed.
    page.locator("#f-claimant_address-postal_code").press_sequentially("2310023", delay=30)
    city = page.locator("#f-claimant_address-city")
    page.wait_for_function(
        "document.getElementById('f-claimant_address-city').value === '横浜市中区'"
    )
    assert page.locator("#f-claimant_address-prefecture").input_value() == "神奈川県"
    assert page.locator("#f-claimant_address-town").input_value() == "山下町"
    assert city.input_value() == "横浜市中区"
    # The resident typed on: the postal code keeps the focus and what was typed.
    assert page.evaluate("document.activeElement.id") == "f-claimant_address-postal_code"
    assert page.locator("#f-claimant_address-postal_code").input_value() == "2310023"
    assert same_document(page)

    # A wrong phone number is said when the field is left, and nothing about untouched fields.
    page.locator("#f-claimant_phone").fill("abc")
    page.locator("#f-claimant_phone").blur()
    page.locator("#f-claimant_phone-live .field-error").wait_for()
    assert page.locator(".field-error").count() == 1
    axe("step 1, a message")
    page.locator("#f-claimant_phone").fill("045-671-2121")
    page.locator("#f-claimant_phone").blur()
    page.locator("#f-claimant_phone-live .field-error").wait_for(state="detached")
    settle(page)

    # The rest of step 1, then 次へ: an ordinary page load, the form still a plain form.
    page.locator("#f-claimant_name-family").fill("山田")
    page.locator("#f-claimant_name-given").fill("花子")
    page.locator("#f-claimant_name-family_kana").fill("ヤマダ")
    page.locator("#f-claimant_name-given_kana").fill("ハナコ")
    page.locator("#f-claimant_birth_date").fill("1990-04-01")
    page.locator("#f-claimant_my_number").fill("123456789018")
    page.locator("#f-claimant_address-block").fill("1-1")
    page.get_by_label("国民年金").check()
    settle(page)
    page.get_by_role("button", name="次へ", exact=True).click()
    page.wait_for_url("**?step=children")
    assert page.locator(".error-summary").count() == 0, page.locator(".error-summary").inner_text()
    mark_page(page)
    axe("step 2")

    # 「児童を追加」: the new child appears in place and its first field has the focus.
    page.locator("#f-children-0-name-family").fill("山田")
    page.get_by_role("button", name="児童を追加").click()
    page.locator("#f-children-1").wait_for()
    page.wait_for_function("document.activeElement.id === 'f-children-1-name-family'")
    assert same_document(page)
    # What was typed for the first child is kept, and the server counted two children.
    assert page.locator("#f-children-0-name-family").input_value() == "山田"
    assert "2人" in page.locator("#f-children_count-value").inner_text()
    # 別居 shows the child's address question, inside that child only.
    page.locator("#f-children-1-living-1").check()
    page.locator("#f-children-1-separate_address-cond").wait_for(state="visible")
    assert page.locator("#f-children-0-separate_address-cond").is_hidden()
    axe("step 2, two children")

    assert violations == {}


def test_the_live_form_works_under_the_content_security_policy(browser, live_server):
    """No bypass here: the site's own CSP is enforced, and nothing it blocks is needed."""
    procedure = jidou()
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    log_in(context, live_server.url, "csp.live@example.jp")
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(form_url(procedure))
        page.wait_for_function("window.htmx !== undefined")
        page.get_by_label("はい", exact=True).check()
        page.locator("#f-spouse_name-cond").wait_for(state="visible")
        page.get_by_label("いいえ", exact=True).check()
        page.locator("#f-spouse_name-cond").wait_for(state="hidden")
    finally:
        context.close()

    assert [text for text in console if "Content Security Policy" in text] == []


def test_without_javascript_every_question_shows_and_adding_lands_on_the_new_child(
    browser, live_server
):
    procedure = jidou()
    context = browser.new_context(
        locale="ja-JP", base_url=live_server.url, java_script_enabled=False
    )
    log_in(context, live_server.url, "nojs.live@example.jp")
    page = context.new_page()
    try:
        page.goto(form_url(procedure))
        # The spouse questions stay, with the words of their rule.
        assert page.get_by_role("group", name="配偶者の氏名").is_visible()
        assert page.get_by_text("「配偶者はいますか」が「はい」の場合").first.is_visible()
        page.goto(form_url(procedure) + "?step=children")
        page.get_by_role("button", name="児童を追加").click()
        page.wait_for_url("**focus=children.1")
        page.wait_for_function("document.activeElement.id === 'f-children-1-name-family'")
        # In view: autofocus scrolls the new child to the screen.
        assert page.locator("#f-children-1-name-family").is_visible()
    finally:
        context.close()


def test_a_correction_starts_from_the_submitted_answers_and_replaces_one_file(
    page, live_server, tmp_path
):
    from madoguchi.applications.workflow import correction_request
    from madoguchi.identity.constants import StaffRole
    from madoguchi.testing import png_bytes, staff_create, submit, valid_answers, with_real_files

    procedure = jidou()
    log_in(page.context, live_server.url, "hanako.correct@example.jp")
    hanako = User.objects.get(email="hanako.correct@example.jp")
    answers = with_real_files(procedure, valid_answers(procedure), owner=hanako)
    answers["claimant_address"] = {"postal_code": "2310023", "block": "1-1", "building": ""}
    answers["account"] = {
        "bank_code": "0001",
        "branch_code": "001",
        "account_type": "ordinary",
        "account_number": "1234567",
        "holder": "ヤマダ ハナコ",
    }
    application = submit(procedure, hanako, answers).application
    staff = staff_create(
        procedure.organisation, email="reviewer@yokohama.test", role=StaffRole.REVIEWER
    )
    correction_request(
        organisation=procedure.organisation,
        application=application,
        staff_user=staff.user,
        body="番地と通帳の写真を確認してください。",
        fields=["claimant_address", "account", "account_document"],
        now=now(),
    )
    new_file = tmp_path / "通帳.png"
    new_file.write_bytes(png_bytes())

    page.goto(f"/mypage/{application.receipt_number}/")
    page.get_by_role("link", name="補正する").click()
    page.wait_for_load_state("load")
    assert page.locator("#f-claimant_address-city").input_value() == "横浜市中区"
    assert page.locator("#f-account-account_number").input_value() == "●●●●567"
    found = axe_violations(page)
    assert found == [], found
    page.locator("#f-claimant_address-block").fill("2-3")
    old_name = application.answers["account_document"][0]["name"]
    page.get_by_label(f"{old_name}を差し替える（削除する）").check()
    page.locator("#f-account_document").set_input_files(str(new_file))
    page.get_by_role("button", name="補正した内容を送信する").click()
    page.wait_for_url(f"**/mypage/{application.receipt_number}/")

    application.refresh_from_db()
    assert application.answers["claimant_address"]["block"] == "2-3"
    assert [f["name"] for f in application.answers["account_document"]] == ["通帳.png"]


def test_a_chosen_file_is_not_sent_to_the_live_form(page, live_server, tmp_path):
    """Choosing a file is a change like any other, but only 「次へ」 uploads it."""
    procedure = jidou()
    log_in(page.context, live_server.url, "files.live@example.jp")
    photo = tmp_path / "通帳.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200_000))
    page.goto(form_url(procedure) + "?step=payment")
    page.wait_for_function("window.htmx !== undefined")

    with page.expect_request(lambda r: r.url.endswith("/apply/live/")) as sent:
        page.locator("#f-account_document").set_input_files(str(photo))

    body = sent.value.post_data_buffer or b""
    assert b"PNG" not in body
    assert len(body) < 20_000
