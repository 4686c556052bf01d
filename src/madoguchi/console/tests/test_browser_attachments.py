"""A reviewer in a real Chromium previews an image and a PDF beside the answers, compares
two versions after a correction and opens the print view; axe finds no violations."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from madoguchi.applications.attachments import attachment_store
from madoguchi.applications.models import Attachment
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    STAFF_PASSWORD,
    axe_violations,
    procedure_publish,
    resident_create,
    totp_enrol,
    totp_fresh_code,
)
from madoguchi.testing import submit_named as apply

pytestmark = pytest.mark.browser


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (30, 60, 120)).save(buffer, "PNG")
    return buffer.getvalue()


def _pdf() -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "bessho")
    page.save()
    return buffer.getvalue()


@pytest.fixture
def reviewer_page(page, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.CLAMD = ""
    organisation = Organisation.objects.get(lg_code="141003")
    procedure = procedure_publish(organisation, "juminhyo")
    resident = resident_create("hanako@example.jp", verified=True)
    application = apply(procedure, resident)
    for name, data in (("通帳の写し.png", _png()), ("別居監護申立書.pdf", _pdf())):
        stored = attachment_store(
            procedure=procedure,
            field_key="residence_document",
            owner=resident,
            name=name,
            data=data,
            now=now(),
        )
        Attachment.objects.filter(pk=stored.pk).update(application=application, revision=1)
    reviewer = staff_upsert(
        organisation=organisation,
        email="reviewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
        display_name="審査 一郎",
    )
    secret = totp_enrol(reviewer.user)
    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill("reviewer@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(reviewer.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")
    page.application = application
    return page


def test_a_reviewer_previews_an_image_and_a_pdf_beside_the_answers(reviewer_page):
    page = reviewer_page
    application = page.application
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/console/applications/{application.pk}/")
    assert axe_violations(page) == []
    files = page.get_by_role("complementary", name="添付ファイル")
    assert files.get_by_text("未検査").count() == 2  # no scanner here: both marked

    files.get_by_role("link", name="表示 （通帳の写し.png）").click()
    image = page.get_by_role("img", name="添付ファイル「通帳の写し.png」")
    image.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('.file-preview__image');"
        " return i && i.complete && i.naturalWidth === 300; }"
    )
    # Beside the answers at a desktop width: the preview's left edge is right of the table's.
    answers = page.locator("#answers-heading").bounding_box()
    preview = page.locator("#attachment-preview").bounding_box()
    assert answers is not None
    assert preview is not None
    assert preview["x"] > answers["x"] + answers["width"] / 2
    assert axe_violations(page) == []

    with page.expect_response(lambda r: r.url.endswith("/view/")) as shown:
        files.get_by_role("link", name="表示 （別居監護申立書.pdf）").click()
    response = shown.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.headers["x-content-type-options"] == "nosniff"
    frame = page.locator('iframe[title="添付ファイル「別居監護申立書.pdf」の表示"]')
    frame.wait_for()
    assert axe_violations(page) == []
    assert AuditEvent.objects.filter(action="attachment.viewed").count() == 2

    # On a phone the preview follows the answers and fits the screen.
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375
    assert axe_violations(page) == []


def test_the_print_view_prints_the_answers_without_navigation(reviewer_page):
    page = reviewer_page
    page.goto(f"/console/applications/{page.application.pk}/print/")
    assert axe_violations(page) == []
    assert page.get_by_role("button", name="印刷する").is_visible()  # shown by print.js
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert not page.locator(".site-footer").is_visible()
    assert not page.get_by_role("button", name="印刷する").is_visible()
    assert page.get_by_role("heading", name="申請の内容").is_visible()
    assert page.locator(".print-answers").first.is_visible()
