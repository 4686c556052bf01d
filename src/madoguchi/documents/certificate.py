"""証明書 the organisation issues online: the 罹災証明書 (certificate of disaster damage,
災害対策基本法第90条の2), laid out after the 内閣府 standard form, on one A4 page.

Built from a plain :class:`CertificateData` (documents sits below applications and knows
nothing of answers): the applications app fills it in from the application of a procedure
adopted from the national template ``risai-shomei`` when it is approved.
"""

from __future__ import annotations

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

#: The slug of the national template whose approvals issue a 罹災証明書.
DISASTER_CERTIFICATE_TEMPLATE = "risai-shomei"
#: 住家の被害の程度 as the 内閣府 「災害に係る住家の被害認定基準運用指針」 names them.
DAMAGE_LEVELS = (
    "全壊",
    "大規模半壊",
    "中規模半壊",
    "半壊",
    "準半壊",
    "準半壊に至らない（一部損壊）",
)


@dataclass(frozen=True)
class CertificateData:
    organisation_name: str
    receipt_number: str
    applicant_name: str
    #: 世帯主の氏名 (the certificate names the household's head).
    householder_name: str
    #: 被災住家の所在地.
    property_address: str
    #: The disaster as people name it: 「令和8年9月の大雨（台風・大雨などによる風水害）」.
    disaster: str
    #: 被害を受けた日, as people read it (和暦).
    damaged_on_text: str
    #: One of :data:`DAMAGE_LEVELS`, or another text staff wrote, or empty (not stated).
    damage_level: str
    building_text: str = ""
    ownership_text: str = ""
    #: 備考 (the approval's reason as staff wrote it).
    note: str = ""
    #: Given by the issuing (madoguchi.documents.issuance.Stamp).
    number: str = ""
    issuer: str = ""
    code: str = ""
    verify_url: str = ""
    issued_on_text: str = ""
    #: An operational-test application (運用テスト): marked in the title, certifies nothing.
    is_test: bool = False
    #: A corrected certificate: what it corrects (「令和8年12月4日付け横こ第12号」).
    corrects: str = ""


def damage_row_text(level: str) -> str:
    """The standard form's row of levels with the one certified marked (■) and the others
    open (□); a level outside the standard list is printed as written."""
    if level in DAMAGE_LEVELS:
        return "　".join(f"{'■' if name == level else '□'}{name}" for name in DAMAGE_LEVELS)
    return level or "（記載なし）"


def certificate_pdf(data: CertificateData, *, generated_at: datetime) -> bytes:
    """Build the 罹災証明書. Holds no My Number and nothing of the application beyond what the
    certificate states. Characters no embedded font has are drawn as 〓 and listed in a note
    on the document."""
    style = styles()
    para = Writer("certificate", style.body)
    story: list[Flowable] = []
    if data.number:
        story.append(para(f"証明書番号　{data.number}", style.right))
    if data.issued_on_text:
        story.append(para(data.issued_on_text, style.right))
    story += [
        Spacer(1, 10 * mm),
        para(
            f"{'【運用テスト】' if data.is_test else ''}罹災証明書{'（訂正）' if data.corrects else ''}",
            style.title.clone("certificate_title", fontSize=20, leading=30),
        ),
        Spacer(1, 8 * mm),
    ]
    if data.corrects:
        story.append(
            para(f"この証明書は、{data.corrects}の罹災証明書を訂正し、差し替えるものです。")
        )
    if data.is_test:
        story.append(
            para(
                "これは運用テスト（公開前の試験）の申請に対する見本です。"
                "証明書番号はなく、何も証明しません。手続の公開時に取り消され、削除されます。"
            )
        )
    label_width = 40 * mm
    damage_cell: Flowable | list[Flowable] = para(damage_row_text(data.damage_level))
    if data.damage_level in DAMAGE_LEVELS:  # the standard form's two lines of levels
        row = damage_row_text(data.damage_level).split("　")
        damage_cell = [para("　".join(row[:-1])), para(row[-1])]
    facts: list[list[Flowable | list[Flowable]]] = [
        [para("世帯主の氏名"), para(data.householder_name)],
        [para("被災住家の所在地"), para(data.property_address)],
        [para("災害の名称・種類"), para(data.disaster)],
        [para("被害を受けた日"), para(data.damaged_on_text)],
        [para("住家の被害の程度"), damage_cell],
    ]
    if data.building_text:
        facts.append([para("住家の種類・構造"), para(data.building_text)])
    if data.ownership_text:
        facts.append([para("住家の所有関係"), para(data.ownership_text)])
    facts += [
        [para("申請者"), para(data.applicant_name)],
        [para("受付番号"), para(data.receipt_number)],
        [para("備考"), para(data.note or "")],
    ]
    story.append(facts_table(facts, [label_width, TEXT_WIDTH - label_width]))
    story += [
        Spacer(1, 8 * mm),
        para("　上記のとおり相違ないことを証明します。"),
        Spacer(1, 8 * mm),
        para(data.issuer or data.organisation_name, style.right),
        para(SEAL_NOTE, style.right),
        Spacer(1, 6 * mm),
        para(
            "注　この証明書は、災害対策基本法第90条の2に基づき、住家の被害の程度を証明するもの"
            "です。被害の程度は、内閣府「災害に係る住家の被害認定基準運用指針」に基づき判定して"
            "います。",
            style.small,
        ),
    ]
    story += verification_flowables(
        code=data.code,
        verify_url=data.verify_url,
        para=lambda text, s=None: para(text, s or style.small),
        code_style=style.code,
    )
    story += missing_note(para.missing, lambda text: para(text, style.small), "")
    return a4_pdf(
        story,
        title=f"罹災証明書 {data.number}".strip(),
        author=data.issuer or data.organisation_name,
        subject=f"罹災証明書（受付番号 {data.receipt_number}）",
    )
