"""到達通知 (receipt of arrival) as a PDF with an embedded Japanese font."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from madoguchi.documents.fonts import font_chain, markup
from madoguchi.documents.layout import a4_pdf, missing_note


@dataclass(frozen=True)
class ReceiptData:
    organisation_name: str
    procedure_name: str
    receipt_number: str
    arrived_at_text: str
    rows: Sequence[tuple[str, str, str]]
    digest: str
    revision: int = 1
    #: How the applicant was identified (e.g. 身元確認レベル3・当人認証レベル3（…）).
    identity_text: str = ""
    #: One line per verified signature: who signed, and that it was verified.
    signature_lines: Sequence[str] = ()
    #: An operational-test application (運用テスト): marked in the title and a note on top.
    is_test: bool = False


def receipt_pdf(data: ReceiptData, *, generated_at: datetime) -> bytes:
    """Build the 到達通知. Answers arrive already masked (My Number ●●●●●●●●1234).

    Characters no embedded font has are drawn as 〓 and listed in a note on the document.
    """
    base = font_chain()[0].name
    body = ParagraphStyle("body", fontName=base, fontSize=9.5, leading=14)
    small = ParagraphStyle(
        "small", parent=body, fontSize=8, leading=11, textColor=colors.HexColor("#333333")
    )
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, spaceAfter=6)
    missing: list[str] = []

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        content, lost = markup(text, context="receipt")
        missing.extend(lost)
        return Paragraph(content, style)

    story: list[object] = [
        para("【運用テスト】到達通知" if data.is_test else "到達通知", title),
        para(f"{data.organisation_name} は、次の申請の到達を確認しました。"),
        Spacer(1, 4 * mm),
    ]
    if data.is_test:
        story[2:2] = [
            para(
                "これは運用テスト（公開前の試験）の申請です。正式な申請としては扱われず、"
                "手続の公開時に削除されます。"
            )
        ]
    facts = [
        [para("受付番号"), para(data.receipt_number)],
        [para("到達日時"), para(data.arrived_at_text)],
        [para("申請先"), para(data.organisation_name)],
        [para("手続"), para(data.procedure_name)],
    ]
    if data.revision > 1:
        facts.append([para("版"), para(f"補正後の第{data.revision}版")])
    if data.identity_text:
        facts.append([para("本人確認"), para(data.identity_text)])
    for line in data.signature_lines:
        facts.append([para("電子署名"), para(line)])
    story.append(_table(facts, [35 * mm, 135 * mm]))
    story += [Spacer(1, 6 * mm), para("申請の内容（個人番号などは一部を伏せて表示しています）")]
    rows = [[para(step), para(label), para(text)] for step, label, text in data.rows] or [
        [para(""), para("（回答なし）"), para("")]
    ]
    story.append(
        _table(
            [[para("区分"), para("項目"), para("内容")], *rows],
            [32 * mm, 48 * mm, 90 * mm],
            header=True,
        )
    )
    story += [
        Spacer(1, 6 * mm),
        para("送信された内容の SHA-256 ハッシュ値（改ざんがないことの確認に使えます）", small),
        para(data.digest, small),
        para(f"作成日時: {generated_at:%Y-%m-%d %H:%M:%S %Z}", small),
    ]
    story += missing_note(
        missing, lambda text: para(text, small), "申請の内容自体は正しく保存されています。"
    )
    return a4_pdf(
        story,
        title=f"{'【運用テスト】' if data.is_test else ''}到達通知 {data.receipt_number}",
        author=data.organisation_name,
    )


def _table(rows: list[list[Paragraph]], widths: list[float], *, header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#767676")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")),
    ]
    if header:
        style = [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#767676")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F2F2F2")),
        ]
    table.setStyle(TableStyle(style))
    return table
