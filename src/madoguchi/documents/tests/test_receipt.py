"""The 到達通知 embeds a real Japanese font and marks, rather than boxes, what no font has."""

from __future__ import annotations

from datetime import UTC, datetime

from madoguchi.documents.fonts import MISSING_MARK, font_chain, markup
from madoguchi.documents.receipt import ReceiptData, receipt_pdf

PRIVATE_USE = "\ue000"  # no font has a glyph for a private-use code point


def receipt(rows):
    return receipt_pdf(
        ReceiptData(
            organisation_name="横浜市",
            procedure_name="住民票の写し等の交付請求",
            receipt_number="141003-261126-00000001",
            arrived_at_text="令和8年11月26日 10時00分00秒",
            rows=rows,
            digest="0" * 64,
        ),
        generated_at=datetime(2026, 11, 26, 1, 0, tzinfo=UTC),
    )


def test_the_receipt_embeds_ipaex_gothic_and_no_unembedded_cid_font():
    pdf = receipt([("申請者", "氏名", "髙橋 花子")])

    assert pdf.startswith(b"%PDF")
    assert b"IPAexGothic" in pdf
    assert b"/FontFile2" in pdf  # the TrueType program itself is inside the file
    assert b"HeiseiKakuGo" not in pdf
    assert b"HeiseiMin" not in pdf


def test_a_character_no_font_has_is_marked_and_named_not_dropped():
    content, missing = markup(f"高{PRIVATE_USE}橋")

    assert MISSING_MARK in content
    assert missing == ["U+E000"]
    pdf = receipt([("申請者", "氏名", f"高{PRIVATE_USE}橋")])
    assert pdf.startswith(b"%PDF")


def test_every_font_in_the_chain_is_embedded_in_order():
    chain = font_chain()
    assert chain[0].name == "IPAexGothic"
    assert ord("髙") in chain[0].codepoints
    # 𠮷 is outside IPAex; with IPAmj Mincho installed it is drawn, otherwise marked.
    content, missing = markup("𠮷")
    if any(0x20BB7 in font.codepoints for font in chain):
        assert not missing
        assert "<font" in content
    else:
        assert missing == ["U+20BB7"]
