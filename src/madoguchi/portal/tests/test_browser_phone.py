"""A resident on a phone (375 px wide, real Chromium): nothing is wider than the screen, no
receipt number, organisation name or date breaks one character per line, tables are stacked
lists, the header leaves the first field of a form within one and a half screens, and the
passkeys and identity pages fit. axe runs on every page."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.utils import timezone

from madoguchi.identity.models import PasskeyCredential
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    PASSWORD,
    axe_violations,
    procedure_publish,
    resident_create,
    submit,
    valid_answers,
)

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 375, 812


def fits(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= WIDTH, f"{page.url} is {overflow} px wide"


def one_line(page: Any, selector: str) -> None:
    """Every element matched is laid out on one line (its height is one line's)."""
    for box in page.locator(selector).all():
        height = box.evaluate(
            "e => { const r = document.createRange(); r.selectNodeContents(e);"
            " return r.getClientRects().length }"
        )
        assert height == 1, f"{box.inner_text()!r} is broken over {height} lines"


def shot(page: Any, name: str) -> None:
    if os.environ.get("MADOGUCHI_SCREENSHOTS"):
        page.screenshot(
            path=f"{os.environ['MADOGUCHI_SCREENSHOTS']}/phone-{name}.png", full_page=True
        )


def test_a_resident_uses_the_portal_on_a_phone(page: Any):
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    yokohama = Organisation.objects.get(lg_code="141003")
    procedure = procedure_publish(yokohama, "sodai-gomi")
    resident = resident_create("hanako@example.jp", verified=True)
    sent = submit(procedure, resident, valid_answers(procedure)).application
    now = timezone.now()
    for index, name in enumerate(["私のスマートフォン（iPhone 15）", "職場のパソコン"]):
        PasskeyCredential.objects.create(
            user=resident,
            credential_id=f"phone-test-{index}",
            user_handle=b"h" * 16,
            public_key=b"k",
            name=name,
            created_at=now,
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
    first = page.locator("main input:not([type=hidden]), main select").first
    box = first.bounding_box()
    assert box is not None
    assert box["y"] < HEIGHT * 1.5, f"the first field starts at {box['y']} px"
    header = page.locator(".site-header").bounding_box()
    assert header is not None
    assert header["height"] < 130, f"the header is {header['height']} px high"
    fits(page)
    shot(page, "apply-step")

    pages = {
        "home": "/",
        "organisation": "/o/142042/",
        "procedure": f"/o/141003/procedures/{procedure.pk}/",
        "complete": f"/applications/{sent.receipt_number}/done/",
        "mypage": "/mypage/",
        "application": f"/mypage/{sent.receipt_number}/",
        "passkeys": "/account/passkeys/",
        "identity": "/account/identity/",
    }
    for name, url in pages.items():
        page.goto(url)
        fits(page)
        assert axe_violations(page) == [], name
        shot(page, name)

    # My page: the list is a stack of cards, the receipt number and the organisation on one line.
    page.goto("/mypage/")
    one_line(page, "td[data-label='受付番号'] a")
    one_line(page, "td[data-label='申請先']")
    one_line(page, "td[data-label='到達日時']")
    row = page.locator("table.table--stack tbody tr").first
    assert page.locator("table.table--stack thead").bounding_box()["height"] <= 1
    assert row.bounding_box()["width"] > WIDTH * 0.8  # a card as wide as the screen
    label = row.locator("td").first.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"受付番号"'  # each cell says what it is

    # The passkeys page: each passkey a card, its buttons inside the screen.
    page.goto("/account/passkeys/")
    for button in page.get_by_role("button", name="変更する").all():
        right = button.bounding_box()
        assert right is not None
        assert right["x"] + right["width"] <= WIDTH
    one_line(page, "td[data-label='登録']")

    page.goto(f"/applications/{sent.receipt_number}/done/")
    one_line(page, ".receipt-number")
