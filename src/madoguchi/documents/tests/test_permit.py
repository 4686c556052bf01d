"""The 使用許可書 embeds a Japanese font and reads as what it says (text extraction)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from madoguchi.documents.layout import SEAL_NOTE
from madoguchi.documents.permit import ELECTRONIC_NOTE, PermitData, permit_pdf


def _permit(**extra):
    values: dict[str, Any] = {
        "organisation_name": "横浜市",
        "number": "261204-ABCD1234",
        "issued_on_text": "令和8年12月4日（2026年12月4日）",
        "facility_name": "みなと市民スポーツセンター",
        "resource_name": "体育室（A面）",
        "when_text": "令和8年12月18日（金） 9:00〜12:00",
        "registration_number": "Y000001",
        "registration_name": "髙橋 花子",
        "purpose": "",
        "fee": 3200,
        "reduction_name": "",
        "fee_due": 3200,
        "payment_text": "未納",
        "conditions": ("飲食はできません。",),
    }
    values.update(extra)
    return permit_pdf(PermitData(**values), generated_at=datetime(2026, 12, 4, tzinfo=UTC))


def test_the_permit_says_what_was_permitted():
    pdf = _permit(purpose="バドミントンの練習", reduction_name="障害者減免", fee_due=0)
    assert pdf.startswith(b"%PDF")
    assert b"IPAexGothic" in pdf
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace(" ", "")
    for expected in (
        "使用許可書",
        "261204-ABCD1234",
        "横浜市",
        "令和8年12月4日",
        "体育室（A面）",
        "Y000001",
        "髙橋花子",
        "バドミントンの練習",
        "3,200円",
        "障害者減免",
        "0円",
        "飲食はできません。",
        ELECTRONIC_NOTE,
    ):
        assert expected in text, expected


def test_a_permit_without_purpose_or_conditions_is_still_whole():
    pdf = _permit(conditions=())
    assert pdf.startswith(b"%PDF")


def _text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace(" ", "")


def test_an_issued_permit_names_its_issuer_with_the_seal_note_and_its_code():
    pdf = _permit(
        issuer="横浜市長　山中 竹春",
        code="ABCD-EFGH-JKMN-PQRS",
        verify_url="https://madoguchi.example.jp/verify/ABCDEFGHJKMNPQRS",
    )
    text = _text(pdf)
    issuer = text.index("横浜市長")
    assert text.index(SEAL_NOTE) > issuer  # under the issuer …
    assert text.index(SEAL_NOTE) < text.index("髙橋花子様")  # … above the addressee
    assert "ABCD-EFGH-JKMN-PQRS" in text


def test_a_permit_not_issued_claims_no_seal():
    assert SEAL_NOTE not in _text(_permit())
