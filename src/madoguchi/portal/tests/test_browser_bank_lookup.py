"""In a real Chromium with JavaScript, typing a bank's name in kana brings the results from the
server while typing (htmx), and picking one fills in the code and shows the name; the same
with the branch. axe on the page with results."""

from __future__ import annotations

from typing import Any

import pytest

from madoguchi.applications.services import draft_save
from madoguchi.core.time import now
from madoguchi.tenants.models import Organisation
from madoguchi.testing import PASSWORD, axe_violations, procedure_publish, resident_create

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(1280, 900), (375, 812)])
def test_a_resident_finds_bank_and_branch_while_typing(page: Any, size: tuple[int, int]):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    procedure = procedure_publish(Organisation.objects.get(lg_code="141003"), "suido-kaishi")
    hanako = resident_create("hanako@example.jp", verified=True)
    # The account field shows (live form) for a new connection paid by transfer: answered
    # before, in the resident's draft.
    draft_save(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=hanako,
        answers={"kind": "start", "payment_method": "transfer"},
        step="user",
        now=now(),
    )
    page.goto("/account/login/")
    page.locator("#id_username").fill("hanako@example.jp")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form[action='/account/login/'] button[type=submit]").click()
    page.wait_for_load_state()
    page.goto(f"/o/141003/procedures/{procedure.pk}/apply/start/")
    if "/start/" in page.url:
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state()
    page.goto(f"/o/141003/procedures/{procedure.pk}/apply/?step=user")

    page.get_by_label("金融機関名・フリガナで探す").press_sequentially("よこはま", delay=30)
    results = page.locator("#f-account-bank-lookup")
    results.get_by_role("button", name="横浜 ヨコハマ・0138").wait_for()
    assert page.url.endswith("?step=user")  # no page load: the fragment came by htmx
    assert axe_violations(page) == []
    results.get_by_role("button", name="横浜 ヨコハマ・0138").click()
    page.wait_for_load_state()
    assert page.locator("[name='account.bank_code']").input_value() == "0138"
    assert page.locator("#f-account-bank_code-found").inner_text() == "横浜"

    page.get_by_label("支店名・フリガナで探す").press_sequentially("みなと", delay=30)
    pick = page.locator("#f-account-branch-lookup").get_by_role("button", name="みなとみらい")
    pick.first.wait_for()
    pick.first.click()
    page.wait_for_load_state()
    assert page.locator("[name='account.branch_code']").input_value() == "307"
    assert page.locator("#f-account-branch_code-found").inner_text() == "みなとみらい"
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
