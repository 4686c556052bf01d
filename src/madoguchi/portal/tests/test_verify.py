"""A landlord scans the QR code on a notice, or types its code, or uploads the PDF at
/verify/: no login, the document's public facts and status, nothing about the applicant,
nothing about other documents, clear Japanese answers to every odd input."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.notices import application_document_withdraw, decision_notice_correct
from madoguchi.applications.review import application_decide, application_move
from madoguchi.core.time import now
from madoguchi.documents import verify as verify_module
from madoguchi.documents.models import Document, RegisterHead
from madoguchi.documents.ratelimit import LOOKUP_LIMIT, UPLOAD_LIMIT
from madoguchi.documents.testing import document_record_make
from madoguchi.documents.testsigning import TestCA, pdf_append_page_text, pdf_plain, pdf_sign
from madoguchi.testing import submit_named as apply


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.make("Portal Test Seal Root")


@pytest.fixture
def trusted(ca, monkeypatch):
    """The platform trusts ``ca`` (the seal's trust roots, through verify's one seam)."""
    monkeypatch.setattr(verify_module, "trust_roots", lambda: [ca.root_asn1])


@pytest.fixture
def notice(procedure, resident, staff_member):
    application = apply(procedure, resident)
    for to_status in (S.ACCEPTED, S.IN_REVIEW):
        application = application_move(
            organisation=procedure.organisation,
            application=application,
            staff=staff_member,
            to_status=to_status,
            expected_status=application.status,
            now=now(),
        )
    issued = application_decide(
        organisation=procedure.organisation,
        application=application,
        staff=staff_member,
        outcome="reject",
        reason="山田さんの所得が基準を超えています。",
        expected_status=application.status,
        now=now(),
    )
    return issued


def page(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_code_page_shows_the_public_facts_and_no_personal_data(client, notice):
    record = notice.record
    response = client.get(f"/verify/{record.code}")

    assert response.status_code == 200
    text = page(response)
    assert "この文書は有効です。" in text
    assert "横浜市" in text
    assert "却下通知書" in text
    assert record.number
    assert record.number in text
    assert "令和" in text
    assert f"{record.issued_at.year}年" in text
    assert record.sha256 in text
    assert "台帳の第1番" in text
    assert "次回の公開（毎日）" in text
    # Nothing the holder does not already have from us: no name, reason, receipt number.
    application = notice.application
    assert "山田" not in text
    assert application.receipt_number not in text
    assert "所得" not in text


def test_the_published_head_covering_the_entry_is_shown(client, notice):
    from madoguchi.documents.models import Register

    register = Register.objects.get(organisation=notice.organisation)
    RegisterHead.objects.create(
        organisation=notice.organisation,
        day=now().date(),
        length=register.length,
        head=register.head,
        published_at=now(),
    )
    text = page(client.get(f"/verify/{notice.record.code}"))
    assert register.head in text
    assert "に公開した台帳" in text


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.lower(),
        lambda c: c.replace("-", ""),
        lambda c: c.translate(
            {ord(ch): ord(ch) + 0xFEE0 for ch in "0123456789ABCDEFGHJKMNPQRSTVWXYZ-"}
        ),
    ],
)
def test_a_code_typed_loosely_goes_to_its_page(client, notice, typed):
    code = notice.record.code
    response = client.get(f"/verify/{typed(code)}")
    assert response.status_code == 302
    assert response["Location"] == f"/verify/{code}"


def test_the_code_form_goes_to_the_page(client, notice):
    code = notice.record.code
    response = client.get("/verify/", {"code": f" {code.lower()} "})
    assert response.status_code == 302
    assert response["Location"] == f"/verify/{code}"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "照合番号を入力してください。"),
        ("123", "形が正しくありません"),
        ("<script>", "形が正しくありません"),
    ],
)
def test_the_code_form_explains_a_wrong_code(client, db, typed, message):
    response = client.get("/verify/", {"code": typed})
    assert response.status_code == 400
    assert message in page(response)
    assert "<script>" not in response.content.decode().split("<main", 1)[1].split('value="', 1)[0]


@pytest.mark.parametrize("code", ["ZZZZ-ZZZZ-ZZZZ-ZZZZ", "nonsense", "A" * 300, "%00", "０"])
def test_an_unknown_code_is_404_and_says_only_that(client, notice, code):
    response = client.get(f"/verify/{code}", follow=True)
    assert response.status_code == 404
    text = page(response)
    assert "この照合番号の文書は見つかりません" in text
    assert "横浜市" not in text
    assert notice.record.number not in text


def test_a_withdrawn_document_says_so_with_the_date_and_reason(client, notice, admin_staff):
    application_document_withdraw(
        organisation=admin_staff.organisation,
        staff=admin_staff,
        application=notice.application,
        issued_id=notice.pk,
        reason="審査の前提となる事実に誤りがあったため。",
        now=now(),
    )
    text = page(client.get(f"/verify/{notice.record.code}"))
    assert "取り消されています" in text
    assert "審査の前提となる事実に誤りがあったため。" in text
    assert "取り消した日" in text
    assert "この文書は有効です。" not in text


def test_a_superseded_document_links_its_successor(client, notice, admin_staff):
    corrected = decision_notice_correct(
        organisation=admin_staff.organisation,
        staff=admin_staff,
        application=notice.application,
        document_id=notice.record_id,
        reason_text="所得が基準額を超えています。",
        correction_note="理由を書き直しました。",
        now=now(),
    )
    text = page(client.get(f"/verify/{notice.record.code}"))
    assert "訂正された文書に差し替えられています" in text
    assert f'href="/verify/{corrected.record.code}"' in text
    assert "理由を書き直しました。" in text
    assert "この文書は有効です。" in page(client.get(f"/verify/{corrected.record.code}"))


def test_a_purged_document_still_verifies(client, organisation):
    document = document_record_make(organisation=organisation, pdf=b"%PDF-1.7 x", now=now())
    Document.objects.filter(pk=document.pk).update(pdf=b"", purged_at=now())
    text = page(client.get(f"/verify/{document.code}"))
    assert document.sha256 in text
    assert "保存期間が過ぎた" in text


def test_lookups_are_limited_per_client_address(notice):
    cache.clear()
    most, _ = LOOKUP_LIMIT
    client = Client(REMOTE_ADDR="192.0.2.10")
    for _ in range(most):
        assert client.get("/verify/ZZZZ-ZZZZ-ZZZZ-ZZZZ").status_code == 404
    refused = client.get(f"/verify/{notice.record.code}")
    assert refused.status_code == 429
    assert "もう一度お試しください" in page(refused)
    assert int(refused["Retry-After"]) >= 1
    # Another address is not held back.
    assert Client(REMOTE_ADDR="192.0.2.11").get(f"/verify/{notice.record.code}").status_code == 200


# --- uploads ----------------------------------------------------------------------------------


def upload(client, data: bytes, name: str = "notice.pdf"):
    return client.post(
        "/verify/upload/", {"pdf": SimpleUploadedFile(name, data, "application/pdf")}
    )


def test_the_index_has_both_forms(client, db):
    text = page(client.get("/verify/"))
    assert 'name="code"' in text
    assert 'type="file"' in text
    assert 'enctype="multipart/form-data"' in text


def test_an_issued_sealed_pdf_is_recognised_with_its_status(client, organisation, ca, trusted):
    pdf = pdf_sign(pdf_plain("Notice"), ca.signer())
    document = document_record_make(organisation=organisation, pdf=pdf, now=now())

    response = upload(client, pdf)

    assert response.status_code == 200
    text = page(response)
    assert "この窓口が発行した文書です。発行されたときから内容は変更されていません。" in text, text[
        text.index("<main") : text.index("</main>")
    ]
    assert "正しい署名です" in text
    assert "ファイル全体" in text
    assert f'href="/verify/{document.code}"' in text
    assert "この文書は有効です。" in text


def test_an_incremental_update_after_the_seal_is_shown_as_a_change(
    client, organisation, ca, trusted
):
    pdf = pdf_sign(pdf_plain("Notice"), ca.signer())
    document_record_make(organisation=organisation, pdf=pdf, now=now())

    text = page(upload(client, pdf_append_page_text(pdf, "PAID")))

    assert "発行した後で変更が加えられています" in text
    assert "ファイルの一部だけ" in text


def test_a_pdf_not_issued_here_is_said_to_be_unknown(client, db, ca, trusted):
    text = page(upload(client, pdf_sign(pdf_plain("Elsewhere"), ca.signer())))
    assert "この窓口が発行した文書とは確認できませんでした。" in text


def test_an_untrusted_chain_and_an_expired_certificate_are_explained(client, db, ca, trusted):
    stranger = TestCA.make("Stranger")
    text = page(upload(client, pdf_sign(pdf_plain(), stranger.signer("Forger"))))
    assert "信頼する認証局につながっていません" in text

    moment = now()
    expired = ca.signer(
        not_before=moment - timedelta(days=90), not_after=moment - timedelta(days=1)
    )
    text = page(upload(client, pdf_sign(pdf_plain(), expired)))
    assert "有効期限" in text


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf_plain())))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def many_revisions() -> bytes:
    pdf = pdf_plain()
    for n in range(verify_module.MAX_REVISIONS):
        pdf = pdf_append_page_text(pdf, f"r{n}")
    return pdf


@pytest.mark.parametrize(
    ("make", "message", "status"),
    [
        (lambda: b"", "ファイルが空です", 400),
        (lambda: b"GIF89a" + b"\0" * 50, "PDFではありません", 400),
        (lambda: b"%PDF-1.7\n garbage %%EOF", "変更されているおそれがあります", 400),
        (encrypted_pdf, "暗号化されている", 400),
        (many_revisions, "回を超えて追記", 400),
    ],
)
def test_hostile_uploads_get_a_japanese_answer_and_nothing_is_stored(
    client, organisation, make, message, status
):
    before = Document.objects.count()
    response = upload(client, make())
    assert response.status_code == status
    assert message in page(response)
    assert Document.objects.count() == before


def test_a_huge_upload_is_refused_before_parsing(client, db, settings):
    settings.VERIFY_MAX_BYTES = 4096
    response = upload(client, b"%PDF-1.7\n" + b"0" * 200_000)
    assert response.status_code == 413
    assert "ファイルが大きすぎます" in page(response)


def test_a_post_without_a_file_is_explained(client, db):
    response = client.post("/verify/upload/", {"other": "x"})
    assert response.status_code == 400
    assert "PDFファイルが選ばれていません" in page(response)


def test_uploads_are_limited_per_client_address(db):
    cache.clear()
    most, _ = UPLOAD_LIMIT
    client = Client(REMOTE_ADDR="2001:db8::1")
    for _ in range(most):
        assert upload(client, b"not a pdf").status_code == 400
    # The same /64 counts as the same client.
    refused = upload(Client(REMOTE_ADDR="2001:db8::2"), b"not a pdf")
    assert refused.status_code == 429
    assert "もう一度お試しください" in page(refused)


def test_the_upload_url_answers_get_with_the_forms(client, db):
    assert client.get("/verify/upload/").status_code == 302


def test_the_register_digest_is_the_one_of_the_issued_bytes(client, notice):
    record = notice.record
    assert record.sha256 == hashlib.sha256(bytes(record.pdf)).hexdigest()


# --- review findings ----------------------------------------------------------------------


def test_a_changed_upload_shows_the_register_record_as_subordinate_not_as_valid(
    client, organisation, ca, trusted
):
    pdf = pdf_sign(pdf_plain("Notice"), ca.signer())
    document_record_make(organisation=organisation, pdf=pdf, now=now())

    text = page(upload(client, pdf_append_page_text(pdf, "PAID")))

    assert "発行した後で変更が加えられています" in text
    assert "この文書は有効です。" not in text
    assert "notice--success" not in text
    assert "台帳に記録された元の文書の状態: 有効" in text


def test_signatures_are_a_definition_list_that_stacks_on_phones(client, organisation, ca, trusted):
    pdf = pdf_sign(pdf_plain("Notice"), ca.signer())
    document_record_make(organisation=organisation, pdf=pdf, now=now())

    text = page(upload(client, pdf))
    main = text[text.index("<main") : text.index("</main>")]

    assert "<table" not in main
    assert '<ol class="signature-list">' in main
    assert "<dt>署名者</dt>" in main


def test_too_many_signatures_have_their_own_answer(client, db, ca, trusted):
    pdf = pdf_plain()
    identity = ca.signer()
    for n in range(verify_module.MAX_SIGNATURES + 1):
        pdf = pdf_sign(pdf, identity, field_name=f"S{n}")

    response = upload(client, pdf)

    assert response.status_code == 400
    assert "電子署名が多すぎる" in page(response)
    assert "回を超えて追記" not in page(response)


def test_a_document_is_called_by_its_own_name(client, organisation):
    from madoguchi.documents.constants import DocumentKind

    document = document_record_make(
        organisation=organisation,
        kind=DocumentKind.CERTIFICATE,
        title="罹災証明書（141003-2026-000123）",
        name="罹災証明書",
        now=now(),
    )

    text = page(client.get(f"/verify/{document.code}"))

    assert "罹災証明書の確認" in text
    assert "141003-2026-000123" not in text


def test_a_corrected_notice_names_the_notice_it_replaces(client, notice, admin_staff):
    corrected = decision_notice_correct(
        organisation=admin_staff.organisation,
        staff=admin_staff,
        application=notice.application,
        document_id=notice.record_id,
        reason_text="所得が基準額を超えています。",
        correction_note="理由を書き直しました。",
        now=now(),
    )
    old = notice.record

    text = page(client.get(f"/verify/{corrected.record.code}"))

    assert f"{old.number}を訂正して発行した文書です。" in text
    assert f'href="/verify/{old.code}"' in text
    assert corrected.record.name == old.name == "却下通知書"


def test_a_bomb_upload_is_a_japanese_refusal_not_a_500(client, db, settings):
    import zlib

    packed = zlib.compress(b"\x01" * 300_000, 9)
    bomb = (
        b"%PDF-1.7\n1 0 obj\n<< /Type /XRef /W [1 0 0] /Size 300000 /Filter /FlateDecode"
        b" /Length "
        + str(len(packed)).encode()
        + b" >>\nstream\n"
        + packed
        + b"\nendstream\nendobj\nstartxref\n9\n%%EOF\n"
    )

    response = upload(client, bomb)

    assert response.status_code == 400
    assert "大きすぎるか" in page(response)
