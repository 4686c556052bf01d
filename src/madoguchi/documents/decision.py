"""決定通知書 (notice of the decision on an application) as a PDF with an embedded Japanese font."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from madoguchi.documents.fonts import font_chain, markup
from madoguchi.documents.layout import a4_pdf, missing_note, verification_flowables

OUTCOME_TITLES = {"approve": "承認", "reject": "却下"}


@dataclass(frozen=True)
class DecisionData:
    organisation_name: str
    procedure_name: str
    receipt_number: str
    #: "approve" or "reject".
    outcome: str
    reason: str
    #: The decision date as people read it: "令和8年11月26日（2026年11月26日）".
    decided_on_text: str
    arrived_at_text: str
    applicant_name: str = ""
    #: 文書番号 (鎌こ第123号), the issuer (職名 氏名), the verification code and its address:
    #: given by the issuing (madoguchi.documents.issuance.Stamp).
    number: str = ""
    issuer: str = ""
    code: str = ""
    verify_url: str = ""
    #: 教示 (how to appeal), from the organisation's notice settings.
    appeal: str = ""


def decision_pdf(data: DecisionData, *, generated_at: datetime) -> bytes:
    """Build the 決定通知書. Holds no My Number and no answers beyond the applicant's name.

    Characters no embedded font has are drawn as 〓 and listed in a note on the document.
    Raises ``ValueError`` for an unknown outcome.
    """
    if data.outcome not in OUTCOME_TITLES:
        raise ValueError(f"unknown outcome {data.outcome!r}")
    base = font_chain()[0].name
    body = ParagraphStyle("body", fontName=base, fontSize=10.5, leading=16)
    small = ParagraphStyle(
        "small", parent=body, fontSize=8, leading=11, textColor=colors.HexColor("#333333")
    )
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, spaceAfter=6)
    right = ParagraphStyle("right", parent=body, alignment=2)
    missing: list[str] = []

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        content, lost = markup(text, context="decision")
        missing.extend(lost)
        return Paragraph(content, style)

    outcome = OUTCOME_TITLES[data.outcome]
    heading = "承認通知書" if data.outcome == "approve" else "却下通知書"
    story: list[object] = [
        para(data.number, right),
        para(data.decided_on_text, right),
        para(data.issuer or data.organisation_name, right),
    ]
    if data.applicant_name:
        story.append(para(f"{data.applicant_name} 様"))
    story += [
        Spacer(1, 6 * mm),
        para(heading, title),
        para(
            f"次の申請について、{'承認' if data.outcome == 'approve' else '却下'}"
            "することに決定しましたので通知します。"
        ),
        Spacer(1, 4 * mm),
    ]
    facts = [
        [para("受付番号"), para(data.receipt_number)],
        [para("手続"), para(data.procedure_name)],
        [para("到達日時"), para(data.arrived_at_text)],
        [para("決定"), para(outcome)],
        [para("決定日"), para(data.decided_on_text)],
        [para("理由" if data.outcome == "reject" else "備考"), para(data.reason or "（なし）")],
    ]
    table = Table(facts, colWidths=[35 * mm, 135 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#767676")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")),
            ]
        )
    )
    story.append(table)
    if data.appeal:
        story += [Spacer(1, 6 * mm), para("（教示）", small)]
        story += [para(line, small) for line in data.appeal.splitlines() if line.strip()]
    story += [
        Spacer(1, 6 * mm),
        para(f"作成日時: {generated_at:%Y-%m-%d %H:%M:%S %Z}", small),
    ]
    story += verification_flowables(
        code=data.code, verify_url=data.verify_url, para=lambda text: para(text, small)
    )
    story += missing_note(missing, lambda text: para(text, small), "")
    return a4_pdf(story, title=f"{heading} {data.receipt_number}", author=data.organisation_name)
