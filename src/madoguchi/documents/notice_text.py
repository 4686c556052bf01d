"""What a notice says about its issuer, its number and the way to appeal (教示).

An administrative disposition (処分) in writing must tell its addressee how to contest it:
行政不服審査法 第82条 (審査請求: to whom, within 3 months of the day after learning of it) and
行政事件訴訟法 第46条 (取消訴訟: against whom, within 6 months). An approval is a disposition
too (conditions may be contested), so it carries the same teaching unless the organisation
says otherwise. Organisation admins edit these texts (:class:`DocumentSettings`); what they
leave empty falls back to :func:`appeal_default`.
"""

from __future__ import annotations

from dataclasses import dataclass

from madoguchi.documents.models import DocumentSettings, ProcedureNoticeSettings
from madoguchi.tenants.models import Organisation


def default_issuer_title(organisation: Organisation) -> str:
    """The head of the organisation as a notice names it when its admins have set no title:
    鎌倉市長, 葉山町長, 神奈川県知事."""
    if organisation.kind == "prefecture":
        return f"{organisation.name}知事"
    return f"{organisation.name}長"


def appeal_default(*, issuer_title: str, organisation_name: str, refusal: bool) -> str:
    """The default 教示 of a decision notice, with the authority filled in."""
    subject = "この決定" if refusal else "この決定（付された条件を含みます。）"
    return (
        f"1　{subject}に不服がある場合は、この決定があったことを知った日の翌日から起算して"
        f"3か月以内に、{issuer_title}に対して審査請求をすることができます"
        "（行政不服審査法第2条、第4条及び第18条）。"
        "ただし、決定があった日の翌日から起算して1年を経過すると、審査請求をすることが"
        "できなくなります。\n"
        "2　この決定の取消しを求める訴え（取消訴訟）は、この決定があったことを知った日の"
        f"翌日から起算して6か月以内に、{organisation_name}を被告として"
        f"（訴訟において{organisation_name}を代表する者は{issuer_title}となります。）"
        "提起することができます（行政事件訴訟法第8条及び第14条）。"
        "ただし、決定があった日の翌日から起算して1年を経過すると、取消訴訟を提起することが"
        "できなくなります。"
    )


@dataclass(frozen=True)
class NoticeSettings:
    """What a notice of one organisation (and procedure) prints besides its content."""

    #: The number series (``NumberSeries.key``): ``decision`` for the organisation's one
    #: series, ``procedure:<id>`` for a procedure with its own.
    number_key: str
    number_prefix: str
    issuer_title: str
    issuer_name: str
    appeal_approve: str
    appeal_reject: str

    @property
    def issuer(self) -> str:
        return f"{self.issuer_title}　{self.issuer_name}".strip("　 ")


def notice_settings(
    organisation: Organisation, *, procedure_key: str | None = None
) -> NoticeSettings:
    """The organisation's notice settings, with its defaults where nothing is set.
    ``procedure_key`` (``procedure:<id>``) names the procedure whose own settings, where it
    has any, come first: each of its non-empty fields wins over the organisation's, and with
    its own series the number key is ``procedure_key`` (its own fiscal-year counter, with its
    own prefix). A series keeps the prefix it started the fiscal year with
    (:func:`madoguchi.documents.issuance.number_take`)."""
    stored = DocumentSettings.objects.filter(organisation=organisation).first()
    own = (
        ProcedureNoticeSettings.objects.filter(
            organisation=organisation, procedure_key=procedure_key
        ).first()
        if procedure_key
        else None
    )

    def pick(name: str) -> str:
        for row in (own, stored):
            value = str(getattr(row, name, "") or "") if row is not None else ""
            if value:
                return value
        return ""

    title = pick("issuer_title") or default_issuer_title(organisation)
    # A procedure's prefix names its own series; without one it shares the organisation's.
    own_series = own is not None and own.own_series and bool(procedure_key)
    prefix = (
        (own.number_prefix if own is not None and own_series else "")
        or (stored.number_prefix if stored else "")
        or organisation.name[:1]
    )
    return NoticeSettings(
        number_key=str(procedure_key) if own_series else "decision",
        number_prefix=prefix,
        issuer_title=title,
        issuer_name=pick("issuer_name"),
        appeal_approve=pick("appeal_approve")
        or appeal_default(issuer_title=title, organisation_name=organisation.name, refusal=False),
        appeal_reject=pick("appeal_reject")
        or appeal_default(issuer_title=title, organisation_name=organisation.name, refusal=True),
    )
