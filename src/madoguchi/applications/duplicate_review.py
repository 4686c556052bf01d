"""Possible duplicates, for staff: the reads of the console's 「重複の可能性」 panel and inbox
filter, and the one service that records staff's decision on a pair.

Two applications of one organisation are *possible duplicates* when they share a key of
:mod:`madoguchi.applications.duplicates` (the same person, or the same household, for the same
procedure and period), whatever their channel (online, counter, mail) and whatever the
procedure's rule: a refused online submission never becomes an application, but counter and
mail registrations and procedures without a rule still meet here. Nothing here ever reads
another organisation's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from madoguchi.applications.constants import DuplicateKeyKind, DuplicateVerdict
from madoguchi.applications.duplicates import DuplicateApplication
from madoguchi.applications.models import Application, DuplicateKey, DuplicateResolution
from madoguchi.applications.review import ReviewError, require_move
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.text import parse_int, visible_text
from madoguchi.forms.base import field_types
from madoguchi.forms.identity import applicant_fields
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation

__all__ = [
    "DuplicateApplication",  # for entry apps that answer a refused duplicate their own way
    "DuplicateCandidate",
    "DuplicatePanel",
    "KeyAnswers",
    "duplicate_resolve",
    "key_answers",
    "possible_duplicate_exists",
    "possible_duplicates",
]

#: At most this many possible duplicates are listed on one application's page.
MAX_CANDIDATES: Final = 50
MAX_REASON: Final = 2000


@dataclass(frozen=True)
class KeyAnswers:
    """The answers the keys are made of, as staff read them (— where the form has none)."""

    name: str
    birth_date: str
    address: str


@dataclass(frozen=True)
class DuplicateCandidate:
    application: Application
    #: Labels of what the two share: 「同じ方」, 「同じ世帯（住所）」.
    shared: tuple[str, ...]
    answers: KeyAnswers
    #: False once the candidate was withdrawn or rejected (its keys released).
    live: bool
    resolution: DuplicateResolution | None


@dataclass(frozen=True)
class DuplicatePanel:
    answers: KeyAnswers
    candidates: list[DuplicateCandidate]

    @property
    def open_count(self) -> int:
        """Candidates still live and not yet decided on."""
        return sum(1 for c in self.candidates if c.live and c.resolution is None)


def key_answers(application: Application) -> KeyAnswers:
    """Name, date of birth and address of the applicant as answered (never decrypted: these
    fields are not 特定個人情報)."""
    spec = form_spec(application.form_version)
    slots = applicant_fields(spec)
    by_key = {f.key: f for step in spec.steps for f in step.fields}
    texts: list[str] = []
    for key in (slots.name, slots.birth_date, slots.address):
        field = by_key.get(key) if key else None
        value = application.answers.get(key) if key else None
        if field is None or value in (None, "", {}):
            texts.append("—")
            continue
        try:
            texts.append(field_types[field.type].display(value, field, reveal=False) or "—")
        except (KeyError, TypeError, ValueError, AttributeError):
            texts.append("—")
    return KeyAnswers(*texts)


def possible_duplicates(*, organisation: Organisation, application: Application) -> DuplicatePanel:
    """The applications of ``organisation`` that share a key with ``application`` (same
    procedure and period), oldest first, each with what they share, their key answers and
    staff's decision on the pair if there is one. Raises ``Application.DoesNotExist`` for
    another organisation's application."""
    if application.organisation_id != organisation.pk:
        raise Application.DoesNotExist
    mine = list(DuplicateKey.objects.filter(organisation=organisation, application=application))
    answers = key_answers(application)
    if not mine:
        return DuplicatePanel(answers, [])
    match = Q()
    for key in mine:
        match |= Q(
            procedure_id=key.procedure_id, kind=key.kind, digest=key.digest, period=key.period
        )
    rows = (
        DuplicateKey.objects.filter(organisation=organisation)
        .filter(match)
        .exclude(application_id=application.pk)
        .select_related("application", "application__form_version", "application__procedure")
        # person before household in what they share
        .order_by("application__arrived_at", "application_id", "-kind")
    )
    shared: dict[int, list[str]] = {}
    found: dict[int, tuple[Application, bool]] = {}
    for row in rows[: MAX_CANDIDATES * 2]:
        shared.setdefault(row.application_id, []).append(str(DuplicateKeyKind(row.kind).label))
        live = row.released_at is None
        if row.application_id in found:
            live = live or found[row.application_id][1]
        found[row.application_id] = (row.application, live)
    decided = {
        (r.first_id if r.second_id == application.pk else r.second_id): r
        for r in DuplicateResolution.objects.filter(organisation=organisation)
        .filter(Q(first=application) | Q(second=application))
        .select_related("decided_by")
    }
    candidates = [
        DuplicateCandidate(
            application=other,
            shared=tuple(shared[pk]),
            answers=key_answers(other),
            live=live,
            resolution=decided.get(pk),
        )
        for pk, (other, live) in list(found.items())[:MAX_CANDIDATES]
    ]
    return DuplicatePanel(answers, candidates)


def possible_duplicate_exists() -> Exists:
    """For ``Application`` querysets: true when the application has a live key that another
    live application of the same procedure and period shares, and staff have not decided on
    that pair yet (the inbox's 「重複の可能性あり」)."""
    decided = DuplicateResolution.objects.filter(
        Q(first_id=OuterRef("application_id"), second_id=OuterRef(OuterRef("application_id")))
        | Q(first_id=OuterRef(OuterRef("application_id")), second_id=OuterRef("application_id"))
    )
    other = (
        DuplicateKey.objects.filter(
            organisation_id=OuterRef("organisation_id"),
            procedure_id=OuterRef("procedure_id"),
            kind=OuterRef("kind"),
            digest=OuterRef("digest"),
            period=OuterRef("period"),
            released_at__isnull=True,
        )
        .exclude(application_id=OuterRef("application_id"))
        .exclude(Exists(decided))
    )
    return Exists(
        DuplicateKey.objects.filter(application_id=OuterRef("pk"), released_at__isnull=True).filter(
            Exists(other)
        )
    )


def duplicate_resolve(
    *,
    organisation: Organisation,
    staff: Staff,
    application: Application,
    other_id: Any,
    verdict: Any,
    reason: Any,
    now: datetime,
) -> DuplicateResolution:
    """Record staff's decision on ``application`` and one of its possible duplicates:
    「重複ではない」 or 「重複」 (then one of them is withdrawn or rejected through the usual
    workflow), with a reason. A later decision on the same pair replaces the earlier one;
    both are in the audit log (``application.duplicate_resolved``, ids and the verdict only).

    Raises ``Application.DoesNotExist`` (another organisation's application),
    :class:`~madoguchi.applications.review.NotAllowed` (a viewer, or a reviewer not assigned
    to the procedure) and :class:`~madoguchi.applications.review.ReviewError` (Japanese,
    nothing changed) for an application that is not a possible duplicate of this one — an id
    of another organisation included, without saying whether it exists — an unknown verdict,
    or a missing or too long reason.
    """
    if application.organisation_id != organisation.pk or staff.organisation_id != organisation.pk:
        raise Application.DoesNotExist
    require_move(staff=staff, application=application)
    other_pk = other_id if isinstance(other_id, int) else parse_int(other_id)
    if other_pk is None or other_pk == application.pk:
        raise ReviewError("比べる申請の指定が正しくありません。画面を開き直してください。")
    if not isinstance(verdict, str) or verdict not in DuplicateVerdict.values:
        raise ReviewError("判断（重複ではない・重複）を選んでください。")
    if not isinstance(reason, str):
        raise ReviewError("理由が正しくありません。")
    text = visible_text(reason)
    if not text:
        raise ReviewError("判断の理由を入力してください。")
    if len(text) > MAX_REASON:
        raise ReviewError(f"理由は{MAX_REASON}文字以内で入力してください（現在{len(text)}文字）。")
    panel = possible_duplicates(organisation=organisation, application=application)
    if other_pk not in {c.application.pk for c in panel.candidates}:
        raise ReviewError(
            "指定した申請は、この申請と重複の可能性がある申請ではありません。画面を開き直してください。"
        )
    first, second = sorted((application.pk, other_pk))
    with transaction.atomic(durable=True):
        before = (
            DuplicateResolution.objects.select_for_update()
            .filter(first_id=first, second_id=second)
            .first()
        )
        resolution, _ = DuplicateResolution.objects.update_or_create(
            first_id=first,
            second_id=second,
            defaults={
                "organisation": organisation,
                "verdict": verdict,
                "reason": text,
                "decided_by": staff.user,
                "decided_at": now,
            },
        )
        audit_record(
            action=AuditAction.APPLICATION_DUPLICATE_RESOLVED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="application",
            target_id=application.pk,
            detail={
                "first": first,
                "second": second,
                "verdict": verdict,
                "before": before.verdict if before is not None else None,
            },
        )
    return resolution
