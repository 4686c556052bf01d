"""Staff open the files of an application: a preview beside the answers (images in <img>,
PDFs in a frame), a download under the file's Japanese name, every read audited, another
organisation's files not found, and a file that no longer passes the upload checks never
shown in the browser."""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import Client
from django.urls import reverse
from PIL import Image
from reportlab.pdfgen import canvas

from madoguchi.applications.attachments import attachment_storage_name, attachment_store
from madoguchi.applications.models import Application, Attachment
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.core.crypto import encrypt_bytes
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.testing import STAFF_PASSWORD, console_login
from madoguchi.testing import submit_named as apply


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "bessho")
    page.save()
    return buffer.getvalue()


@pytest.fixture
def files_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.CLAMD = ""
    return tmp_path


@pytest.fixture
def application(procedure, resident, files_dir):
    return apply(procedure, resident)


def attach(application: Application, resident: Any, name: str, data: bytes) -> Attachment:
    stored = attachment_store(
        procedure=application.procedure,
        field_key="residence_document",
        owner=resident,
        name=name,
        data=data,
        now=now(),
    )
    Attachment.objects.filter(pk=stored.pk).update(application=application, revision=1)
    stored.refresh_from_db()
    return stored


def stored_as_is(application: Application, name: str, kind: str, data: bytes) -> Attachment:
    """A file written without today's checks (as one stored before a check was added)."""
    row = Attachment(
        organisation=application.organisation,
        procedure=application.procedure,
        field_key="residence_document",
        application=application,
        revision=1,
        name=name,
        kind=kind,
        content_type={"pdf": "application/pdf", "png": "image/png"}[kind],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        scanned=True,
        created_at=now(),
    )
    storages["default"].save(attachment_storage_name(row), ContentFile(encrypt_bytes(data)))
    row.save(force_insert=True)
    return row


def link(name: str, application: Application, attachment: Attachment) -> str:
    return reverse(f"console:{name}", args=[application.pk, attachment.pk])


def page_of(client: Client, application: Application, preview: str = "") -> str:
    address = reverse("console:application", args=[application.pk])
    response = client.get(address + (f"?preview={preview}" if preview else ""))
    assert response.status_code == 200
    return str(response.content.decode())


def audited(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_staff_preview_an_image_beside_the_answers_and_the_read_is_audited(
    staff_client, staff_member, application, resident
):
    image = attach(application, resident, "通帳の写し.png", png_bytes())

    page = page_of(staff_client, application, image.pk.hex)

    answers_at = page.index('id="answers-heading"')
    preview_at = page.index('id="attachment-preview"')
    assert answers_at < preview_at  # the preview sits beside (after) the answers
    assert (
        f'<img class="file-preview__image" src="{link("attachment_view", application, image)}"'
        in page
    )
    assert "ウイルス検査をしていません" in page  # no scanner was configured
    assert not audited(AuditAction.ATTACHMENT_VIEWED)  # the page shows no bytes itself

    shown = staff_client.get(link("attachment_view", application, image))

    assert shown.status_code == 200
    assert shown.content == image_bytes_of(image)
    assert shown["Content-Type"] == "image/png"
    assert shown["Content-Disposition"] == (
        "inline; filename=\"attachment.png\"; filename*=UTF-8''" + quote("通帳の写し.png")
    )
    assert shown["X-Content-Type-Options"] == "nosniff"
    assert shown["X-Frame-Options"] == "SAMEORIGIN"
    policy = shown["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "sandbox" in policy
    assert "frame-ancestors 'self'" in policy
    assert "no-store" in shown["Cache-Control"]
    (event,) = audited(AuditAction.ATTACHMENT_VIEWED)
    assert event.actor_id == staff_member.user_id
    assert event.organisation_id == application.organisation_id
    assert event.target_id == image.pk.hex
    assert event.detail["application"] == application.pk
    assert "通帳" not in str(event.detail)  # ids, never names


def image_bytes_of(attachment: Attachment) -> bytes:
    from madoguchi.applications.attachments import attachment_open

    return attachment_open(attachment=attachment)


def test_a_pdf_is_shown_in_a_frame_under_a_policy_that_runs_nothing(
    staff_client, application, resident
):
    pdf = attach(application, resident, "別居監護申立書.pdf", pdf_bytes())

    page = page_of(staff_client, application, pdf.pk.hex)
    assert (
        f'<iframe class="file-preview__frame" src="{link("attachment_view", application, pdf)}"'
        in page
    )
    assert 'title="添付ファイル「別居監護申立書.pdf」の表示"' in page

    shown = staff_client.get(link("attachment_view", application, pdf))
    assert shown.status_code == 200
    assert shown["Content-Type"] == "application/pdf"
    assert shown["Content-Disposition"].startswith("inline; ")
    assert shown["X-Content-Type-Options"] == "nosniff"
    policy = shown["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # none: default-src 'none' forbids scripts
    assert "frame-ancestors 'self'" in policy


def test_a_download_keeps_the_japanese_name_and_is_audited(staff_client, application, resident):
    pdf = attach(application, resident, "別居監護申立書.pdf", pdf_bytes())

    got = staff_client.get(link("attachment_download", application, pdf))

    assert got.status_code == 200
    assert got["Content-Type"] == "application/pdf"
    assert got["Content-Disposition"] == (
        "attachment; filename=\"attachment.pdf\"; filename*=UTF-8''"
        "%E5%88%A5%E5%B1%85%E7%9B%A3%E8%AD%B7%E7%94%B3%E7%AB%8B%E6%9B%B8.pdf"
    )
    assert got["X-Content-Type-Options"] == "nosniff"
    assert [e.target_id for e in audited(AuditAction.ATTACHMENT_DOWNLOADED)] == [pdf.pk.hex]
    assert not audited(AuditAction.ATTACHMENT_VIEWED)


def test_an_ascii_name_survives_as_the_plain_filename(staff_client, application, resident):
    image = attach(application, resident, 'scan "1".png', png_bytes())
    got = staff_client.get(link("attachment_download", application, image))
    # The stored name has no quote left (uploads.safe_file_name), so none breaks the header.
    assert got["Content-Disposition"] == (
        "attachment; filename=\"scan _1_.png\"; filename*=UTF-8''scan%20_1_.png"
    )


def test_another_organisations_staff_and_made_up_ids_find_nothing(
    application, resident, other_organisation, procedure, organisation
):
    image = attach(application, resident, "通帳.png", png_bytes())
    stranger = staff_upsert(
        organisation=other_organisation,
        email="admin@kamakura.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )
    client = console_login(Client(), stranger.user)
    for name in ("attachment_view", "attachment_download"):
        assert client.get(link(name, application, image)).status_code == 404
    # Another application of the same organisation does not hold this file either.
    second = apply(procedure, resident)
    own = staff_upsert(
        organisation=organisation,
        email="reviewer2@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
    )
    mine = console_login(Client(), own.user)
    assert mine.get(link("attachment_view", second, image)).status_code == 404
    made_up = reverse("console:attachment_download", args=[application.pk, uuid.uuid4()])
    assert mine.get(made_up).status_code == 404
    assert mine.get(f"/console/applications/{application.pk}/attachments/../../").status_code in (
        301,
        302,
        404,
    )
    assert not AuditEvent.objects.filter(action__startswith="attachment.")


@pytest.mark.parametrize(
    "preview", ["not-a-uuid", "0" * 32, "'\"><script>", "%00", "a" * 500, "通帳"]
)
def test_a_hostile_preview_choice_shows_the_page_with_a_japanese_note(
    staff_client, application, resident, preview
):
    attach(application, resident, "通帳.png", png_bytes())
    page = page_of(staff_client, application, preview)
    assert "選んだファイルは、この申請にはありません" in page
    assert "<script>" not in page.split('id="attachments-heading"')[1]


def test_a_file_that_no_longer_passes_the_checks_is_marked_and_never_shown_inline(
    staff_client, application
):
    # A PNG with a web page after it: stored before such files were refused.
    polyglot = png_bytes()[:8] + b"<html><script>alert(1)</script></html>" + png_bytes()[8:]
    bad = stored_as_is(application, "怪しい.png", "png", polyglot)
    # Bytes that claim to be a PDF but are not.
    fake = stored_as_is(application, "偽物.pdf", "pdf", b"GIF89a not a pdf at all")

    page = page_of(staff_client, application)
    for item in (bad, fake):
        row = page[page.index(item.name) :]
        row = row[: row.index("</li>")]
        assert "要注意" in row
        assert "画面には表示しません" in row
        assert "?preview=" not in row  # no preview link
    page = page_of(staff_client, application, bad.pk.hex)
    assert "このファイルは画面に表示しません" in page
    assert link("attachment_view", application, bad) not in page

    refused = staff_client.get(link("attachment_view", application, bad))
    assert refused.status_code == 409
    assert refused["Content-Type"].startswith("text/plain")
    assert "ウェブページ" in refused.content.decode()
    assert not audited(AuditAction.ATTACHMENT_VIEWED)

    got = staff_client.get(link("attachment_download", application, bad))
    assert got.status_code == 200
    assert got["Content-Type"] == "application/octet-stream"
    assert got["Content-Disposition"].startswith("attachment; ")
    (event,) = audited(AuditAction.ATTACHMENT_DOWNLOADED)
    assert event.detail["state"] == "suspicious"


def test_a_file_changed_in_the_storage_is_neither_shown_nor_downloaded(
    staff_client, application, resident
):
    image = attach(application, resident, "通帳.png", png_bytes())
    Attachment.objects.filter(pk=image.pk).update(sha256="0" * 64)

    page = page_of(staff_client, application)
    assert "読み取れません" in page
    for name in ("attachment_view", "attachment_download"):
        response = staff_client.get(link(name, application, image))
        assert response.status_code == 409
        assert "一致しません" in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="attachment.")


def test_a_scanned_file_says_so_and_a_viewer_may_open_it(application, resident, organisation):
    image = attach(application, resident, "通帳.png", png_bytes())
    Attachment.objects.filter(pk=image.pk).update(scanned=True)
    viewer = staff_upsert(
        organisation=organisation,
        email="viewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.VIEWER,
    )
    client = console_login(Client(), viewer.user)
    page = page_of(client, application, image.pk.hex)
    assert "ウイルス検査済み" in page
    assert "未検査" not in page
    assert client.get(link("attachment_view", application, image)).status_code == 200


def test_posting_to_a_file_is_refused(staff_client, application, resident):
    image = attach(application, resident, "通帳.png", png_bytes())
    assert staff_client.post(link("attachment_view", application, image)).status_code == 405
    assert staff_client.post(link("attachment_download", application, image)).status_code == 405


def test_a_new_staff_member_of_the_demo_can_open_an_image_and_a_pdf_at_once(db, settings, tmp_path):
    from madoguchi.identity.models import Staff
    from madoguchi.ops.demo import DEMO_ATTACHMENTS_KEY, demo_setup

    settings.DATA_DIR = tmp_path
    settings.CLAMD = ""
    demo_setup(now=now())
    application = Application.objects.get(idempotency_key=DEMO_ATTACHMENTS_KEY)
    files = {a.kind: a for a in Attachment.objects.filter(application=application)}
    assert set(files) == {"png", "pdf"}
    staff = Staff.objects.get(organisation=application.organisation, role=StaffRole.ADMIN)
    client = console_login(Client(), staff.user)
    for attachment in files.values():
        page = page_of(client, application, attachment.pk.hex)
        assert attachment.name in page
        shown = client.get(link("attachment_view", application, attachment))
        assert shown.status_code == 200
        assert shown["Content-Type"] == attachment.content_type
    demo_setup(now=now())  # once
    assert Application.objects.filter(idempotency_key=DEMO_ATTACHMENTS_KEY).count() == 1
