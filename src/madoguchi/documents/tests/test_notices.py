"""The 承認・却下通知書, the issued 到達通知 and the 罹災証明書 as documents: what a reader finds
on them (text extracted with pypdf, a reader we did not write), their metadata, and that
hostile text never breaks the build."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pypdf
import pytest

from madoguchi.documents.certificate import (
    CertificateData,
    certificate_pdf,
    damage_row_text,
)
from madoguchi.documents.decision import DecisionData, decision_pdf, leading_date
from madoguchi.documents.layout import SEAL_NOTE
from madoguchi.documents.notice_text import appeal_default
from madoguchi.documents.permit import PermitData, permit_pdf
from madoguchi.documents.receipt import ReceiptData, receipt_pdf

GENERATED = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
CODE = "7K3Q-M2XD-90PA-RT4N"
URL = f"https://madoguchi.example.jp/verify/{CODE}"
REASON = "所得が所得制限限度額（1,234,000円）を超えているため、要件を満たしません。"


def decision(outcome: str = "reject", **changes: Any) -> DecisionData:
    data = DecisionData(
        organisation_name="鎌倉市",
        procedure_name="児童手当認定請求",
        receipt_number="142042-261120-01234567",
        outcome=outcome,
        reason=REASON,
        decided_on_text="令和8年12月4日（2026年12月4日）",
        arrived_at_text="令和8年11月20日 10時05分（2026-11-20 10:05）",
        applicant_name="山田　太郎",
        number="鎌第12号",
        issuer="鎌倉市長　松尾　崇",
        code=CODE,
        verify_url=URL,
        appeal=appeal_default(
            issuer_title="鎌倉市長", organisation_name="鎌倉市", refusal=outcome == "reject"
        ),
    )
    return replace(data, **changes)


def read(pdf: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, text


def flat(text: str) -> str:
    """Extracted text without line breaks and spaces (a line may break between words)."""
    return re.sub(r"\s+", "", text)


def test_a_refusal_notice_has_number_date_addressee_issuer_reasons_and_teaching():
    reader, text = read(decision_pdf(decision(), generated_at=GENERATED))
    body = flat(text)

    assert len(reader.pages) == 1
    assert "鎌第12号" in body
    assert "令和8年12月4日" in body
    assert "山田太郎様" in body
    assert "鎌倉市長" in body
    assert "松尾崇" in body
    assert flat(SEAL_NOTE) in body
    assert "却下通知書" in body
    assert "却下することに決定したので通知します" in body
    assert "理由" in body
    assert flat(REASON) in body
    assert "（教示）" in body
    assert "審査請求" in body
    assert "取消訴訟" in body
    assert "3か月以内" in body
    assert "142042-261120-01234567" in body
    assert CODE in body
    assert URL in body


def test_an_approval_notice_says_so_and_carries_its_teaching():
    _reader, text = read(decision_pdf(decision("approve", reason=""), generated_at=GENERATED))
    body = flat(text)

    assert "承認通知書" in body
    assert "承認することに決定したので通知します" in body
    assert "付された条件を含みます" in body  # the approval's 教示
    assert "理由・付記事項" in body


def test_the_notice_metadata_names_it_in_japanese_for_screen_readers():
    pdf = decision_pdf(decision(), generated_at=GENERATED)
    reader, _ = read(pdf)

    assert reader.metadata is not None
    assert reader.metadata.title == "却下通知書 鎌第12号"
    assert reader.metadata.author == "鎌倉市長　松尾　崇"
    catalog: Any = reader.trailer["/Root"]
    assert catalog["/Lang"] == "ja-JP"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"]


def test_the_header_date_is_the_wareki_date_alone():
    assert leading_date("令和8年12月4日（2026年12月4日）") == "令和8年12月4日"
    assert leading_date("令和元年5月1日 10時00分") == "令和元年5月1日"
    assert leading_date("2026-12-04") == "2026-12-04"


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match="unknown outcome"):
        decision_pdf(decision("maybe"), generated_at=GENERATED)


HOSTILE = [
    "<script>alert(1)</script><b>太字</b>&amp;&lt;</para><font name='x'>",
    "\u202e逆順\u202c\u2066隔離\u2069\u200b\u200d\ufeff",  # bidi controls and zero widths
    "𠮷野家の髙橋さん　葛\U000e0100飾区",  # 外字 outside IPAex, an IVS
    "\x00\x07\x1b[31m制御文字\x7f",
    "\ue000\uf8ff私用領域",
    "長い理由" * 800,  # several pages of reasons
    "1" * 3000,  # one unbreakable run far longer than a line
    "\n\n\t改行\r\nと\u2028区切り\u2029",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_breaks_the_notice(text):
    pdf = decision_pdf(
        decision(reason=text, applicant_name=text[:200], procedure_name=text[:200]),
        generated_at=GENERATED,
    )
    reader, extracted = read(pdf)
    assert pdf.startswith(b"%PDF")
    assert "却下通知書" in flat(extracted)
    assert "\u202e" not in extracted  # bidi overrides are left out, never reorder the text
    if text == "長い理由" * 800:
        assert len(reader.pages) > 1  # flows on, nothing cut
        total = len(reader.pages)
        for number, page in enumerate(reader.pages, start=1):  # each page says which it is
            assert f"{number} / {total}" in page.extract_text()
        assert flat(extracted).count("長い理由") >= 800
    if text.startswith("1" * 100):
        assert flat(extracted).count("1") >= 3000  # broken across lines, never lost


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_breaks_the_receipt_certificate_or_permit(text):
    receipt = receipt_pdf(
        ReceiptData(
            organisation_name="鎌倉市",
            procedure_name=text[:200],
            receipt_number="142042-261120-01234567",
            arrived_at_text="令和8年11月20日 10時05分",
            rows=[("申請者", text[:100], text)],
            digest="0" * 64,
            applicant_name=text[:100],
            issuer="鎌倉市長　松尾　崇",
            code=CODE,
            verify_url=URL,
            issued_on_text="令和8年12月4日",
        ),
        generated_at=GENERATED,
    )
    certificate = certificate_pdf(
        certificate_data(note=text, property_address=text[:300]), generated_at=GENERATED
    )
    permit = permit_pdf(
        PermitData(
            organisation_name="鎌倉市",
            number="R-000123",
            issued_on_text="令和8年12月4日",
            facility_name=text[:100],
            resource_name="第1会議室",
            when_text="令和8年12月18日（金） 9:00〜12:00",
            registration_number="U-0001",
            registration_name=text[:100],
            purpose=text,
            fee=10000,
            reduction_name="",
            fee_due=10000,
            payment_text="未納",
            conditions=[text],
        ),
        generated_at=GENERATED,
    )
    for pdf in (receipt, certificate, permit):
        assert read(pdf)[0].pages


def test_the_issued_receipt_names_its_issuer_and_carries_the_verification_block():
    _, text = read(
        receipt_pdf(
            ReceiptData(
                organisation_name="鎌倉市",
                procedure_name="児童手当認定請求",
                receipt_number="142042-261120-01234567",
                arrived_at_text="令和8年11月20日 10時05分00秒",
                rows=[("申請者", "氏名", "山田　太郎")],
                digest="ab" * 32,
                applicant_name="山田　太郎",
                issuer="鎌倉市長　松尾　崇",
                code=CODE,
                verify_url=URL,
                issued_on_text="令和8年12月4日",
            ),
            generated_at=GENERATED,
        )
    )
    body = flat(text)
    assert "到達通知" in body
    assert "受付番号142042-261120-01234567" in body
    assert "山田太郎様" in body
    assert "松尾崇" in body
    assert flat(SEAL_NOTE) in body
    assert CODE in body
    assert URL in body
    assert "作成日時" not in body  # an issued receipt is dated by its issuing


def certificate_data(**changes: Any) -> CertificateData:
    data = CertificateData(
        organisation_name="鎌倉市",
        receipt_number="142042-261120-01234567",
        applicant_name="山田　太郎",
        householder_name="山田　太郎",
        property_address="神奈川県鎌倉市御成町18番10号",
        disaster="令和8年9月の大雨（台風・大雨などによる風水害）",
        damaged_on_text="令和8年9月20日",
        damage_level="半壊",
        building_text="一戸建て・木造",
        ownership_text="持ち家",
        note="現地調査（令和8年10月2日）の結果、半壊と判定しました。",
        number="鎌第13号",
        issuer="鎌倉市長　松尾　崇",
        code=CODE,
        verify_url=URL,
        issued_on_text="令和8年12月4日",
    )
    return replace(data, **changes)


def test_the_certificate_states_the_damage_and_is_signed_by_the_issuer():
    reader, text = read(certificate_pdf(certificate_data(), generated_at=GENERATED))
    body = flat(text)

    assert len(reader.pages) == 1
    assert "罹災証明書" in body
    assert "証明書番号鎌第13号" in body
    assert "令和8年12月4日" in body
    assert "神奈川県鎌倉市御成町18番10号" in body
    assert "■半壊" in body
    assert "□全壊" in body
    assert "上記のとおり相違ないことを証明します" in body
    assert "松尾崇" in body
    assert flat(SEAL_NOTE) in body
    assert CODE in body


def test_the_damage_row_marks_only_the_level_given_never_one_in_the_note():
    row = damage_row_text("半壊")
    assert "■半壊" in row
    assert "■全壊" not in row
    assert row.count("■") == 1
    _, text = read(
        certificate_pdf(
            certificate_data(damage_level="半壊", note="全壊には至らず、半壊と判定しました"),
            generated_at=GENERATED,
        )
    )
    assert "■半壊" in flat(text)
    assert "■全壊" not in flat(text)
    assert damage_row_text("") == "（記載なし）"
    assert damage_row_text("床上浸水") == "床上浸水"
