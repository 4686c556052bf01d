"""承認通知書・却下通知書 (notice of the decision on an application), laid out as a Japanese
administrative notice on one A4 page.

Top right the document number (文書番号) and the date in 和暦; the addressee (様); the issuer
(職名　氏名) with the note that the electronic seal stands in for the printed 公印; the title;
the decision sentence; 記 and the facts; the reasons (理由, required for a refusal and checked
upstream); the 教示 (how to appeal); and the verification block (QR code and 照合番号).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

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

OUTCOME_TITLES = {"approve": "承認", "reject": "却下"}
_LEADING_DATE = re.compile(r"^\s*((?:令和|平成|昭和)(?:元|[0-9]+)年[0-9]+月[0-9]+日)")


@dataclass(frozen=True)
class DecisionData:
    organisation_name: str
    procedure_name: str
    receipt_number: str
    #: "approve" or "reject".
    outcome: str
    reason: str
    #: The decision date as people read it, starting with the 和暦 date:
    #: "令和8年11月26日（2026年11月26日）".
    decided_on_text: str
    #: The arrival as people read it, starting with the 和暦 date:
    #: "令和8年11月20日 10時05分（2026-11-20 10:05）".
    arrived_at_text: str
    applicant_name: str = ""
    #: 文書番号 (鎌こ第123号), the issuer (職名　氏名), the verification code and its address:
    #: given by the issuing (madoguchi.documents.issuance.Stamp).
    number: str = ""
    issuer: str = ""
    code: str = ""
    verify_url: str = ""
    #: 教示 (how to appeal), from the organisation's notice settings.
    appeal: str = ""
    #: A corrected notice (訂正通知): what it corrects, e.g. 「令和8年12月4日付け横こ第12号」;
    #: the title then says 「（訂正）」 and the notice names the one it replaces.
    corrects: str = ""
    #: An operational-test application (運用テスト): marked in the title, no effect.
    is_test: bool = False


def leading_date(text: str) -> str:
    """The 和暦 date a date text starts with (令和8年12月4日), or the text itself."""
    match = _LEADING_DATE.match(text)
    return match.group(1) if match else text.strip()


def decision_pdf(data: DecisionData, *, generated_at: datetime) -> bytes:
    """Build the 承認通知書 or 却下通知書 (one A4 page for ordinary content; longer reasons
    flow onto a second). Holds no My Number and no answers beyond the applicant's name.

    Characters no embedded font has are drawn as 〓 and listed in a note on the document.
    Raises ``ValueError`` for an unknown outcome.
    """
    if data.outcome not in OUTCOME_TITLES:
        raise ValueError(f"unknown outcome {data.outcome!r}")
    style = styles()
    para = Writer("decision", style.body)
    outcome = OUTCOME_TITLES[data.outcome]
    heading = f"{'【運用テスト】' if data.is_test else ''}{outcome}通知書"
    if data.corrects:
        heading += "（訂正）"
    refusal = data.outcome == "reject"
    decided_on = leading_date(data.decided_on_text)
    arrived_on = leading_date(data.arrived_at_text)

    story: list[Flowable] = []
    if data.number:
        story.append(para(data.number, style.right))
    story += [para(decided_on, style.right), Spacer(1, 5 * mm)]
    story.append(para(f"{data.applicant_name}　様" if data.applicant_name else "申請者　様"))
    story += [
        Spacer(1, 5 * mm),
        para(data.issuer or data.organisation_name, style.right),
        para(SEAL_NOTE, style.right),
        Spacer(1, 9 * mm),
        para(heading, style.title),
        Spacer(1, 5 * mm),
        para(
            f"　{arrived_on}付けで申請のあった{data.procedure_name}については、"
            f"次のとおり{outcome}することに決定したので通知します。"
        ),
    ]
    if data.corrects:
        story.append(
            para(f"　この通知書は、{data.corrects}の{outcome}通知書を訂正し、差し替えるものです。")
        )
    if data.is_test:
        story.append(
            para(
                "　これは運用テスト（公開前の試験）の申請に対する通知書の見本です。"
                "文書番号はなく、決定としての効力はありません。手続の公開時に取り消され、削除されます。"
            )
        )
    story += [
        Spacer(1, 3 * mm),
        para("記", style.center),
        Spacer(1, 3 * mm),
    ]
    label_width = 34 * mm
    facts = [
        [para("受付番号"), para(data.receipt_number)],
        [para("申請の手続"), para(data.procedure_name)],
        [para("申請の到達日時"), para(data.arrived_at_text)],
        [para("決定の内容"), para(outcome)],
        [para("決定日"), para(data.decided_on_text)],
        [
            para("理由" if refusal else "理由・付記事項"),
            para(data.reason or ("（なし）" if not refusal else "")),
        ],
    ]
    story.append(facts_table(facts, [label_width, TEXT_WIDTH - label_width]))
    if data.appeal:
        lines = [line.strip() for line in data.appeal.splitlines() if line.strip()]
        hang = style.small.fontSize * 1.55
        appeal_style = style.small.clone("appeal", leftIndent=hang, firstLineIndent=-hang)
        teaching: list[Flowable] = [Spacer(1, 5 * mm), para("（教示）", style.small)]
        teaching += [para(line, appeal_style) for line in lines]
        story.append(KeepTogether(teaching))
    story += verification_flowables(
        code=data.code,
        verify_url=data.verify_url,
        para=lambda text, s=None: para(text, s or style.small),
        code_style=style.code,
    )
    story += missing_note(para.missing, lambda text: para(text, style.small), "")
    return a4_pdf(
        story,
        title=f"{heading} {data.number or data.receipt_number}".strip(),
        author=data.issuer or data.organisation_name,
        subject=f"{data.procedure_name}（受付番号 {data.receipt_number}）の{heading}",
    )
