"""使用許可書 (permit to use a facility) as a PDF with an embedded Japanese font.

Built from a plain :class:`PermitData` (documents sits below reservations and knows nothing
of bookings): the reservations app fills it in and the portal downloads the result.
"""

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

ELECTRONIC_NOTE = "この許可書は電子的に発行されたものです"


@dataclass(frozen=True)
class PermitData:
    #: The issuer (the organisation), as it signs the permit.
    organisation_name: str
    #: 許可番号 (the booking number).
    number: str
    #: The date of issue as people read it: 「令和8年12月4日（2026年12月4日）」.
    issued_on_text: str
    facility_name: str
    resource_name: str
    #: 「令和8年12月18日（金） 9:00〜12:00」.
    when_text: str
    registration_number: str
    registration_name: str
    purpose: str
    fee: int
    #: The reduction's name (減免), empty for none.
    reduction_name: str
    fee_due: int
    #: 納付状況 in words (未納, 窓口で納付済み …).
    payment_text: str
    #: The facility's rules (使用の条件), one line each.
    conditions: Sequence[str] = ()
    facility_address: str = ""
    #: The issuer as printed (職名 氏名, e.g. 横浜市長　山中 竹春), from the issuing stamp;
    #: the organisation's name is printed when empty.
    issuer: str = ""
    #: 照合番号 and its /verify/ address, from the issuing stamp (no block when empty).
    code: str = ""
    verify_url: str = ""


def permit_pdf(data: PermitData, *, generated_at: datetime) -> bytes:
    """Build the 使用許可書, in the layout every issued document shares
    (:mod:`madoguchi.documents.layout`). When issued (``data.code`` set) the issuer is followed
    by the seal note and the document ends with the verification block. Characters no embedded
    font has are drawn as 〓 and listed in a note on the document."""
    style = styles()
    para = Writer("permit", style.body)
    story: list[Flowable] = [
        para(f"許可番号 {data.number}", style.right),
        para(data.issued_on_text, style.right),
        para(data.issuer or data.organisation_name, style.right),
    ]
    if data.code:
        story.append(para(SEAL_NOTE, style.right))
    story += [
        Spacer(1, 4 * mm),
        para(f"{data.registration_name} 様"),
        Spacer(1, 6 * mm),
        para("使用許可書", style.title),
        para("次のとおり、施設の使用を許可します。"),
        Spacer(1, 4 * mm),
    ]
    facts = [
        [para("許可番号（予約番号）"), para(data.number)],
        [para("施設"), para(data.facility_name)],
        [para("部屋・コート"), para(data.resource_name)],
        [para("使用日時"), para(data.when_text)],
        [para("利用者番号"), para(data.registration_number)],
        [para("氏名・団体名"), para(data.registration_name)],
    ]
    if data.purpose:
        facts.append([para("使用目的"), para(data.purpose)])
    facts += [
        [para("使用料"), para(f"{data.fee:,}円")],
        [para("減免"), para(data.reduction_name or "なし")],
        [para("納付額"), para(f"{data.fee_due:,}円")],
        [para("納付状況"), para(data.payment_text)],
    ]
    if data.facility_address:
        facts.append([para("施設の所在地"), para(data.facility_address)])
    label_width = 46 * mm
    story.append(facts_table(facts, [label_width, TEXT_WIDTH - label_width]))
    story += [Spacer(1, 6 * mm), para("使用の条件")]
    conditions = [line.strip() for line in data.conditions if line.strip()] or [
        "施設の利用の決まりに従って使用してください。"
    ]
    story += [para(f"・{line}", style.small) for line in conditions]
    story += [
        Spacer(1, 6 * mm),
        para(
            "使用当日は、この許可書（画面の表示でも可）を施設の受付でご提示ください。",
            style.small,
        ),
        para(f"{ELECTRONIC_NOTE}。", style.small),
        para(f"作成日時: {generated_at:%Y-%m-%d %H:%M:%S %Z}", style.small),
    ]
    story += verification_flowables(
        code=data.code,
        verify_url=data.verify_url,
        para=lambda text, s=None: para(text, s or style.small),
        code_style=style.code,
    )
    story += missing_note(para.missing, lambda text: para(text, style.small), "")
    return a4_pdf(story, title=f"使用許可書 {data.number}", author=data.organisation_name)
