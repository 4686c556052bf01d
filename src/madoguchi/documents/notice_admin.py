"""What organisation admins set for the documents they issue, and their number series.

Public services (each one durable transaction, audited, a save that changes nothing records
nothing): :func:`document_settings_save` (the organisation's issuer, prefix and 教示),
:func:`procedure_notice_settings_save` (one procedure's own), :func:`document_number_void`
(欠番). Reads: :func:`number_series_of`, :func:`documents_of`, :func:`document_settings_of`,
:func:`procedure_notice_settings_of`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.text import has_visible, strip_invisible, visible_text
from madoguchi.documents.issuance import fiscal_year_of
from madoguchi.documents.models import (
    Document,
    DocumentSettings,
    NumberGap,
    NumberSeries,
    ProcedureNoticeSettings,
)
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

#: The fields an admin sets, their labels and their longest length.
SETTINGS_FIELDS: Final = {
    "issuer_title": ("発行者の職名", 64),
    "issuer_name": ("発行者の氏名", 64),
    "number_prefix": ("文書番号の記号", 16),
    "appeal_approve": ("承認の教示", 2000),
    "appeal_reject": ("却下の教示", 2000),
}
_APPEALS: Final = frozenset({"appeal_approve", "appeal_reject"})
#: A prefix is letters (漢字・かな・英字), digits and ー・々 〆: it is printed before 第…号.
_PREFIX: Final = re.compile(r"^(?!.*_)[\w々〆ー・－-]+$")
_PROCEDURE_KEY: Final = re.compile(r"^procedure:[1-9][0-9]{0,17}$")
REASON_MAX: Final = 400


class NoticeSettingsRefused(ValueError):
    """One or more fields cannot be stored; ``errors`` maps field (or ``""``) → message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


def _clean(data: Mapping[str, object], fields: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in fields:
        label, limit = SETTINGS_FIELDS[name]
        raw = data.get(name, "")
        text = raw if isinstance(raw, str) else ""
        if "\x00" in text:
            errors[name] = f"{label}に使えない文字が含まれています。"
            continue
        if name in _APPEALS:
            lines = [strip_invisible(line).rstrip() for line in text.splitlines()]
            text = "\n".join(lines).strip()
            text = visible_text(text)
        else:
            text = visible_text(strip_invisible(text)).replace("\u3000", " ").strip()
            text = re.sub(r" {2,}", " ", text)
        if "<" in text or ">" in text:
            errors[name] = f"{label}に「<」「>」は使えません。文書にそのまま印字されます。"
            continue
        if len(text) > limit:
            errors[name] = f"{label}は{limit}文字以内で入力してください（いま{len(text)}文字）。"
            continue
        if name == "number_prefix" and text:
            text = unicodedata.normalize("NFKC", text)
            if not _PREFIX.match(text) or not has_visible(text):
                errors[name] = (
                    "文書番号の記号は、漢字・かな・英数字で、空白や記号を入れずに入力してください"
                    "（例: 鎌こ）。番号は「第1号」の形で後ろに付きます。"
                )
                continue
            if text.endswith("第"):
                errors[name] = "文書番号の記号の最後に「第」は不要です。「第1号」は自動で付きます。"
                continue
        values[name] = text
    if errors:
        raise NoticeSettingsRefused(errors)
    return values


def _procedure_label(key: str, names: Mapping[str, str] | None) -> str:
    name = (names or {}).get(key)
    return f"手続「{name}」" if name else f"手続（{key}）"


def _prefix_clash(
    *,
    organisation: Organisation,
    key: str,
    prefix: str,
    now: datetime,
    names: Mapping[str, str] | None,
) -> str:
    """Why series ``key`` may not number with ``prefix``, or "" when it may: another setting
    starts its series with the same prefix (the organisation's, or a procedure's own), or
    this fiscal year's series of another key prints it while ``key`` has no series yet this
    year (its first number would take ``prefix`` now; a running series keeps its prefix, and
    the new one applies from the next fiscal year, where the settings alone decide). Either
    would print one number (鎌第1号) twice in a year; the database refuses it too
    (``number_series_prefix_once``)."""
    if key != "decision":
        stored = DocumentSettings.objects.filter(organisation=organisation).first()
        own_prefix = (stored.number_prefix if stored else "") or organisation.name[:1]
        if own_prefix == prefix:
            return (
                f"「{prefix}」は団体の文書番号の記号です。同じ記号では同じ番号が二度発行される"
                "ため、この手続だけの番号には別の記号を入力してください。"
            )
    other = (
        ProcedureNoticeSettings.objects.filter(
            organisation=organisation, own_series=True, number_prefix=prefix
        )
        .exclude(procedure_key=key)
        .order_by("procedure_key")
        .first()
    )
    if other is not None:
        return (
            f"「{prefix}」は{_procedure_label(other.procedure_key, names)}だけの番号の記号です。"
            "同じ記号では同じ番号が二度発行されるため、別の記号を入力してください。"
        )
    year = fiscal_year_of(now)
    series = NumberSeries.objects.filter(organisation=organisation, fiscal_year=year)
    if not series.filter(key=key).exists():
        running = series.filter(prefix=prefix).exclude(key=key).first()
        if running is not None:
            owner = (
                "団体の番号"
                if running.key == "decision"
                else _procedure_label(running.key, names) + "だけの番号"
            )
            return (
                f"「{prefix}」は今年度（{year}年度）の{owner}（{prefix}第…号）で使っています。"
                "同じ記号では同じ番号が二度発行されるため、別の記号を入力してください。"
            )
    return ""


def _describe(name: str, before: str, after: str) -> str:
    label = SETTINGS_FIELDS[name][0] if name in SETTINGS_FIELDS else name
    if name in _APPEALS:
        was = f"独自の文（{len(before)}文字）" if before else "既定の文"
        now_ = f"独自の文（{len(after)}文字）" if after else "既定の文"
        if before and after:
            return f"{label}: 独自の文を書き換え（{len(before)}文字 → {len(after)}文字）"
        return f"{label}: {was} → {now_}"
    return f"{label}: 「{before or '（既定）'}」→「{after or '（既定）'}」"


def document_settings_of(*, organisation: Organisation) -> DocumentSettings | None:
    """The organisation's stored document settings, or None (every default applies)."""
    return DocumentSettings.objects.filter(organisation=organisation).first()


def document_settings_save(
    *,
    organisation: Organisation,
    actor: User | None,
    data: Mapping[str, object],
    now: datetime,
    procedure_names: Mapping[str, str] | None = None,
) -> DocumentSettings:
    """Store the organisation's issuer (職名・氏名), number prefix and 教示 as given; an empty
    field means its default (:mod:`madoguchi.documents.notice_text`). Records
    ``DOCUMENT_SETTINGS_CHANGED`` with each change in words (a save that changes nothing
    records nothing). A prefix applies to series that start after it (a fiscal year's
    series keeps its prefix). Raises :class:`NoticeSettingsRefused` (nothing stored) for an
    overlong text, ``<``/``>``, a NUL, a prefix with spaces or symbols, or a changed prefix
    that a procedure's own numbers use or this fiscal year's series of a procedure prints
    (the message names it, by ``procedure_names`` — procedure key → name — where given)."""
    values = _clean(data, tuple(SETTINGS_FIELDS))
    with transaction.atomic(durable=True):
        row = DocumentSettings.objects.select_for_update().filter(organisation=organisation).first()
        if row is None:
            row = DocumentSettings(organisation=organisation)
        if row.number_prefix != values["number_prefix"]:
            clash = _prefix_clash(
                organisation=organisation,
                key="decision",
                prefix=values["number_prefix"] or organisation.name[:1],
                now=now,
                names=procedure_names,
            )
            if clash:
                raise NoticeSettingsRefused({"number_prefix": clash})
        changes = [
            _describe(name, getattr(row, name), value)
            for name, value in values.items()
            if getattr(row, name) != value
        ]
        if not changes:
            return row
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        row.save()
        audit_record(
            action=AuditAction.DOCUMENT_SETTINGS_CHANGED,
            now=now,
            organisation=organisation,
            actor=actor,
            target_type="document_settings",
            target_id=row.pk,
            detail={"scope": "organisation", "changes": changes},
        )
    return row


def procedure_notice_settings_of(
    *, organisation: Organisation, procedure_key: str
) -> ProcedureNoticeSettings | None:
    """One procedure's own notice settings, or None (the organisation's apply)."""
    return ProcedureNoticeSettings.objects.filter(
        organisation=organisation, procedure_key=procedure_key
    ).first()


def procedure_notice_settings_keys(
    *, organisation: Organisation
) -> dict[str, ProcedureNoticeSettings]:
    """The organisation's procedures with settings of their own, by procedure key."""
    return {
        row.procedure_key: row
        for row in ProcedureNoticeSettings.objects.filter(organisation=organisation)
    }


def procedure_notice_settings_save(
    *,
    organisation: Organisation,
    actor: User | None,
    procedure_key: str,
    data: Mapping[str, object],
    now: datetime,
    procedure_names: Mapping[str, str] | None = None,
) -> ProcedureNoticeSettings | None:
    """Store one procedure's own settings (``procedure_key`` = ``procedure:<id>``; the caller
    has checked that the procedure is the organisation's): with ``own_series`` its own number
    series under its own prefix (required then, refused otherwise), and an issuer and 教示
    that replace the organisation's where not empty. All empty and no own series removes the
    row (the organisation's settings apply). Audited as ``DOCUMENT_SETTINGS_CHANGED`` with the
    changes in words; a save that changes nothing records nothing. Raises
    :class:`NoticeSettingsRefused` (nothing stored), also for an own prefix that the
    organisation's, another procedure's own or this fiscal year's running series uses (the
    message names it, by ``procedure_names`` — procedure key → name — where given)."""
    if not _PROCEDURE_KEY.match(procedure_key):
        raise NoticeSettingsRefused({"": "手続の指定が正しくありません。"})
    values = _clean(data, tuple(SETTINGS_FIELDS))
    own_series = data.get("own_series") in (True, "on", "1", "true")
    if own_series and not values["number_prefix"]:
        raise NoticeSettingsRefused(
            {"number_prefix": "この手続だけの番号を使うときは、文書番号の記号を入力してください。"}
        )
    if not own_series and values["number_prefix"]:
        raise NoticeSettingsRefused(
            {
                "number_prefix": "文書番号の記号は「この手続だけの番号を使う」を選んだときに"
                "入力してください（選ばないときは団体の記号と番号を使います）。"
            }
        )
    with transaction.atomic(durable=True):
        row = (
            ProcedureNoticeSettings.objects.select_for_update()
            .filter(organisation=organisation, procedure_key=procedure_key)
            .first()
        )
        before = {name: getattr(row, name) if row else "" for name in SETTINGS_FIELDS}
        was_own = bool(row and row.own_series)
        if own_series and (not was_own or before["number_prefix"] != values["number_prefix"]):
            clash = _prefix_clash(
                organisation=organisation,
                key=procedure_key,
                prefix=values["number_prefix"],
                now=now,
                names=procedure_names,
            )
            if clash:
                raise NoticeSettingsRefused({"number_prefix": clash})
        changes = [
            _describe(name, before[name], value)
            for name, value in values.items()
            if before[name] != value
        ]
        if was_own != own_series:
            changes.append(
                "この手続だけの番号: " + ("使う" if own_series else "使わない（団体の番号）")
            )
        if not changes:
            return row
        empty = not own_series and not any(values.values())
        if empty:
            if row is not None:
                row.delete()
            row = None
            target_id: int | str = procedure_key
        else:
            if row is None:
                row = ProcedureNoticeSettings(
                    organisation=organisation, procedure_key=procedure_key
                )
            for name, value in values.items():
                setattr(row, name, value)
            row.own_series = own_series
            row.updated_at = now
            row.save()
            target_id = row.pk
        audit_record(
            action=AuditAction.DOCUMENT_SETTINGS_CHANGED,
            now=now,
            organisation=organisation,
            actor=actor,
            target_type="procedure_notice_settings",
            target_id=target_id,
            detail={"scope": procedure_key, "changes": changes},
        )
    return row


# --- Number series and 欠番 -----------------------------------------------------------------


@dataclass(frozen=True)
class SeriesRow:
    """One number series as the admin's list shows it."""

    series: NumberSeries
    gaps: list[NumberGap]
    #: The next number (a number past ``last_number`` can be voided only as the next one).
    next_number: int


def fiscal_year_now(*, now: datetime) -> int:
    """The fiscal year (年度) whose series numbers what is issued at ``now``."""
    return fiscal_year_of(now)


def number_series_of(*, organisation: Organisation) -> list[SeriesRow]:
    """The organisation's number series, newest fiscal year first, with their 欠番."""
    series = list(
        NumberSeries.objects.filter(organisation=organisation).order_by("-fiscal_year", "key")
    )
    gaps: dict[int, list[NumberGap]] = {}
    for gap in NumberGap.objects.filter(organisation=organisation).order_by("number"):
        gaps.setdefault(gap.series_id, []).append(gap)
    return [
        SeriesRow(series=s, gaps=gaps.get(s.pk, []), next_number=s.last_number + 1) for s in series
    ]


class NumberVoidRefused(ValueError):
    """The number cannot be voided; the message says why and what to do."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def document_number_void(
    *,
    organisation: Organisation,
    actor: User | None,
    series_id: int,
    number: int,
    reason: str,
    now: datetime,
) -> NumberGap:
    """Record ``number`` of the organisation's series ``series_id`` as 欠番 with ``reason``.

    Guarantees: only a number no document carries and not voided before; a number past the
    series' last one only as its next number, which the series then counts as used, so no
    document will ever carry it (numbers are never reused). Audited as
    ``DOCUMENT_NUMBER_VOIDED``. Raises :class:`NumberVoidRefused` (nothing stored); a series of
    another organisation is :class:`NumberSeries.DoesNotExist`."""
    text = visible_text(strip_invisible(reason if isinstance(reason, str) else ""))
    if not text:
        raise NumberVoidRefused("欠番にする理由を入力してください。", field="reason")
    if len(text) > REASON_MAX:
        raise NumberVoidRefused(
            f"理由は{REASON_MAX}文字以内で入力してください（いま{len(text)}文字）。", field="reason"
        )
    if not 1 <= number < 2**31:
        raise NumberVoidRefused("番号は1以上の数字で入力してください。", field="number")
    try:
        with transaction.atomic(durable=True):
            series = NumberSeries.objects.select_for_update().get(
                organisation=organisation, pk=series_id
            )
            label = f"{series.prefix}第{number}号（{series.fiscal_year}年度）"
            if number > series.last_number + 1:
                raise NumberVoidRefused(
                    f"{label}はまだ使われていない先の番号です。欠番にできるのは、"
                    f"使われなかった番号か、次の番号（第{series.last_number + 1}号）だけです。",
                    field="number",
                )
            if Document.objects.filter(series=series, serial=number).exists():
                raise NumberVoidRefused(
                    f"{label}は発行した文書が使っています。文書を取り消す場合は、"
                    "その文書の取消しを行ってください。",
                    field="number",
                )
            if NumberGap.objects.filter(series=series, number=number).exists():
                raise NumberVoidRefused(f"{label}はすでに欠番です。", field="number")
            if number == series.last_number + 1:
                series.last_number = number
                series.save(update_fields=["last_number"])
            gap = NumberGap.objects.create(
                organisation=organisation,
                series=series,
                number=number,
                reason=text,
                recorded_at=now,
                recorded_by=actor if actor is not None and actor.pk else None,
            )
            audit_record(
                action=AuditAction.DOCUMENT_NUMBER_VOIDED,
                now=now,
                organisation=organisation,
                actor=actor,
                target_type="number_series",
                target_id=series.pk,
                reason=text,
                detail={"number": label, "series": series.key, "fiscal_year": series.fiscal_year},
            )
    except IntegrityError:  # voided by someone else at the same moment
        raise NumberVoidRefused("その番号はすでに欠番です。", field="number") from None
    return gap


def documents_of(*, organisation: Organisation) -> QuerySet[Document]:
    """The organisation's issued documents, newest first (without their PDFs)."""
    return (
        Document.objects.filter(organisation=organisation)
        .defer("pdf")
        .select_related("series")
        .order_by("-issued_at", "-pk")
    )
