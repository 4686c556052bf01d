"""到達通知 (receipt of arrival) as a PDF with an embedded Japanese font."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from madoguchi.documents.layout import (
    SEAL_NOTE,
    TEXT_WIDTH,
    Writer,
    a4_pdf,
    facts_table,
    missing_note,
    styles,
    verification_flowables,
)


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
    #: The applicant as the addressee (様); empty leaves the notice unaddressed.
    applicant_name: str = ""
    #: Given by the issuing (madoguchi.documents.issuance.Stamp) when the receipt is issued
    #: as a sealed document: its issuer (職名　氏名), verification code and address, and the
    #: day of issue in 和暦.
    issuer: str = ""
    code: str = ""
    verify_url: str = ""
    issued_on_text: str = ""


def receipt_pdf(data: ReceiptData, *, generated_at: datetime) -> bytes:
    """Build the 到達通知. Answers arrive already masked (My Number ●●●●●●●●1234).

    When issued (``data.code`` set) it carries the issuer, the seal note and the verification
    block. Characters no embedded font has are drawn as 〓 and listed in a note on the
    document.
    """
    style = styles(body_size=9.5)
    para = Writer("receipt", style.body)
    heading = f"{'【運用テスト】' if data.is_test else ''}到達通知"
    story: list[Flowable] = [para(f"受付番号　{data.receipt_number}", style.right)]
    if data.issued_on_text:
        story.append(para(data.issued_on_text, style.right))
    if data.applicant_name:
        story += [Spacer(1, 3 * mm), para(f"{data.applicant_name}　様")]
    if data.code:
        story += [
            Spacer(1, 3 * mm),
            para(data.issuer or data.organisation_name, style.right),
            para(SEAL_NOTE, style.right),
        ]
    story += [
        Spacer(1, 6 * mm),
        para(heading, style.title),
        Spacer(1, 3 * mm),
        para(
            f"　次の申請は、{data.arrived_at_text}に{data.organisation_name}に到達しました"
            "（行政手続法第7条）。審査の結果は、あらためてお知らせします。"
        ),
        Spacer(1, 3 * mm),
    ]
    if data.is_test:
        story.append(
            para(
                "これは運用テスト（公開前の試験）の申請です。正式な申請としては扱われず、"
                "手続の公開時に削除されます。"
            )
        )
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
    story.append(facts_table(facts, [34 * mm, TEXT_WIDTH - 34 * mm]))
    # The verification block before the answers: on the first page however long they are.
    story += verification_flowables(
        code=data.code,
        verify_url=data.verify_url,
        para=lambda text, s=None: para(text, s or style.small),
        code_style=style.code,
    )
    story += [Spacer(1, 5 * mm), para("申請の内容（個人番号などは一部を伏せて表示しています）")]
    rows = [[para(step), para(label), para(text)] for step, label, text in data.rows] or [
        [para(""), para("（回答なし）"), para("")]
    ]
    story.append(
        facts_table(
            [[para("区分"), para("項目"), para("内容")], *rows],
            [32 * mm, 48 * mm, TEXT_WIDTH - 80 * mm],
            header=True,
        )
    )
    story += [
        Spacer(1, 5 * mm),
        para(
            "送信された内容の SHA-256 ハッシュ値（改ざんがないことの確認に使えます）", style.small
        ),
        para(data.digest, style.small),
    ]
    if not data.code:
        story.append(para(f"作成日時: {generated_at:%Y-%m-%d %H:%M:%S %Z}", style.small))
    story += missing_note(
        para.missing,
        lambda text: para(text, style.small),
        "申請の内容自体は正しく保存されています。",
    )
    return a4_pdf(
        story,
        title=f"{heading} {data.receipt_number}",
        author=data.issuer or data.organisation_name,
        subject=f"{data.procedure_name}の申請の到達通知（受付番号 {data.receipt_number}）",
    )
