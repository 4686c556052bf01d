"""No duplicates (重複申請の扱い): the keys of an application and the claims they make.

Private steps of the applications app, joined to the caller's transaction (an import-linter
contract keeps the entry apps away; staff reach the public reads and the resolution service in
:mod:`madoguchi.applications.duplicate_review`).

**Keys.** Each application gets up to two keys, stored only as HMAC-SHA256 digests (the key is
derived from ``MADOGUCHI_SECRET_KEY``), never as plain values:

- *person*: the applicant's name (folded by :func:`madoguchi.core.text.name_key`: full/half
  width, spaces; 髙 and 高 stay different) and date of birth. Taken from the verified attributes
  of the submission's identity (the card's 基本4情報, the national login) when it has a name and
  a date of birth, else from the form's applicant fields
  (:func:`madoguchi.forms.identity.applicant_fields`). The address is *not* part of it: a
  person who moved is still the same person, and the card's address and a typed one are
  written differently more often than names are. A form without a date of birth keys the
  person on name and address instead (weaker: it says so in ``material``).
- *household*: the applicant's address (folded by :func:`madoguchi.core.text.address_key`:
  丁目・番・号 and dashes, kanji numerals, widths), building and room included (two flats are two
  households).

**Claims.** For the procedure's rule (:class:`madoguchi.catalog.constants.Uniqueness`) the key
of the ruled kind *holds* the claim: a partial unique index allows one holder per (procedure,
kind, key, period), so of two concurrent submissions one wins and the other's insert fails, on
SQLite and PostgreSQL alike. The period is the fiscal year (年度, April–March in Asia/Tokyo) of
arrival for "one per person per fiscal year", else empty. Online submissions that lose are
refused (:class:`DuplicateApplication`); counter and mail registrations are stored anyway, kept
as non-holding keys, and show up to staff as possible duplicates. A withdrawal (取下げ) or a
rejection (却下) releases the application's keys, and the earliest live application still
waiting on the same key takes the claim over.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.db import IntegrityError, transaction

from madoguchi.applications.constants import ApplicationStatus, DuplicateKeyKind
from madoguchi.applications.models import Application, DuplicateKey
from madoguchi.applications.services import SubmissionError
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.constants import Uniqueness
from madoguchi.catalog.models import Procedure
from madoguchi.core.text import address_key, name_key
from madoguchi.core.time import to_tokyo
from madoguchi.forms.base import FormSpec
from madoguchi.forms.identity import applicant_fields
from madoguchi.identity.assurance import VerifiedIdentity
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

K = DuplicateKeyKind

#: Statuses that give the claim back, so that the person can apply again.
RELEASING: Final = frozenset({ApplicationStatus.WITHDRAWN, ApplicationStatus.REJECTED})

#: The kind of key each rule holds a claim on.
RULE_KIND: Final = {
    Uniqueness.PERSON: K.PERSON,
    Uniqueness.PERSON_FISCAL_YEAR: K.PERSON,
    Uniqueness.HOUSEHOLD: K.HOUSEHOLD,
}

_KEY_LABEL = b"madoguchi.duplicates.v1"


class DuplicateApplication(SubmissionError):
    """An online submission refused by the procedure's duplicate rule; nothing was stored.

    The message points to the first application only when it was sent from the same account;
    otherwise it is neutral and names nobody.
    """

    def __init__(
        self,
        message: str,
        *,
        first_id: int,
        same_account: bool,
        procedure_id: int,
        organisation_id: int,
        kind: str,
        period: str,
        first_receipt: str = "",
    ) -> None:
        super().__init__(message)
        self.first_id = first_id
        #: The first application's receipt number, only when it was sent from the same account.
        self.first_receipt = first_receipt
        self.same_account = same_account
        self.procedure_id = procedure_id
        self.organisation_id = organisation_id
        self.kind = kind
        self.period = period


@dataclass(frozen=True)
class ApplicantKeys:
    """The normalised material of an applicant, and its digests ("" where unknown)."""

    person: str
    household: str
    #: True when the person key came from verified attributes.
    verified: bool


@dataclass(frozen=True)
class ClaimOutcome:
    """What :func:`claim_uniqueness` stored: the keys, and the applications that already
    held the claim (for counter/mail registrations that were stored despite them)."""

    kinds: tuple[str, ...]
    held: bool
    conflicts: tuple[int, ...]


def fiscal_year(instant: datetime) -> int:
    """年度 of ``instant`` in Asia/Tokyo: 2026-03-31 23:59 JST is 2025, 2026-04-01 00:00 is 2026."""
    local = to_tokyo(instant)
    return local.year if local.month >= 4 else local.year - 1


def period_of(rule: str, arrived_at: datetime) -> str:
    return f"FY{fiscal_year(arrived_at)}" if rule == Uniqueness.PERSON_FISCAL_YEAR else ""


def _hmac_key() -> bytes:
    secret = str(settings.SECRET_KEY).encode("utf-8")
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def key_digest(kind: str, material: str) -> str:
    """The stored form of a key: HMAC-SHA256 under a key derived from the secret key."""
    return hmac.new(_hmac_key(), f"{kind}\x1f{material}".encode(), hashlib.sha256).hexdigest()


def _answer_name(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    return f"{value.get('family') or ''} {value.get('given') or ''}"


def _answer_address(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    parts = ("prefecture", "city", "town", "block", "building")
    return "".join(str(value.get(p) or "") for p in parts)


_LOOSE_SEPARATOR = re.compile(r"-(?![0-9])")


def _household(text: str) -> str:
    """:func:`address_key`, and a separator before a non-number dropped: 「1番1号山下ハイツ」
    and 「1-1 山下ハイツ」 are the same address (号 before a building name)."""
    return _LOOSE_SEPARATOR.sub("", address_key(text))


def applicant_material(
    *, spec: FormSpec, answers: Mapping[str, Any], identity: VerifiedIdentity | None
) -> tuple[str, str, bool]:
    """(person material, household material, verified): the normalised plain values that
    the digests are made of. Never stored; "" where the source does not say."""
    fields = applicant_fields(spec)
    attributes = identity.attributes if identity is not None else None
    typed_name = name_key(_answer_name(answers.get(fields.name))) if fields.name else ""
    typed_birth = str(answers.get(fields.birth_date) or "") if fields.birth_date else ""
    typed_address = (
        _household(_answer_address(answers.get(fields.address))) if fields.address else ""
    )
    verified = bool(attributes and attributes.name and attributes.birth_date)
    if attributes is not None and verified:
        name, birth = name_key(attributes.name), attributes.birth_date
    else:
        name, birth = typed_name, typed_birth
    address = (
        _household(attributes.address) if attributes is not None and attributes.address else ""
    ) or typed_address
    if name and birth:
        person = f"nb:{name}|{birth}"
    elif name and address:
        person = f"na:{name}|{address}"
    else:
        person = ""
    household = f"a:{address}" if address else ""
    return person, household, verified


def applicant_keys(
    *, spec: FormSpec, answers: Mapping[str, Any], identity: VerifiedIdentity | None
) -> ApplicantKeys:
    person, household, verified = applicant_material(spec=spec, answers=answers, identity=identity)
    return ApplicantKeys(
        person=key_digest(K.PERSON, person) if person else "",
        household=key_digest(K.HOUSEHOLD, household) if household else "",
        verified=verified,
    )


def _refusal(
    application: Application, procedure: Procedure, holder: DuplicateKey, kind: str, period: str
) -> DuplicateApplication:
    first = holder.application
    same_account = (
        application.applicant_id is not None and first.applicant_id == application.applicant_id
    )
    who = "同じ世帯" if kind == K.HOUSEHOLD else "同じ方"
    limit = "1年度に1件だけ" if period else "1件だけ"
    if same_account:
        message = (
            f"この手続は、{who}からは{limit}受け付けています。"
            f"受付番号 {first.receipt_number} の申請がすでにあります。"
            "マイページで状況を確認できます。"
        )
    else:
        message = (
            f"この手続は、{who}からは{limit}受け付けています。"
            "この内容の申請はオンラインでは受け付けられませんでした。"
            "申請した覚えがない場合や、申請し直す必要がある場合は、担当窓口にお問い合わせください。"
        )
    return DuplicateApplication(
        message,
        first_id=first.pk,
        same_account=same_account,
        procedure_id=procedure.pk,
        organisation_id=procedure.organisation_id,
        kind=kind,
        period=period,
        first_receipt=first.receipt_number if same_account else "",
    )


def rule_holders(
    *,
    procedure: Procedure,
    spec: FormSpec,
    answers: Mapping[str, Any],
    identity: VerifiedIdentity | None,
    at: datetime,
) -> list[Application]:
    """The applications that already hold ``procedure``'s duplicate rule for the person (or
    household) these answers describe, in the period of ``at``. Reads only: what a counter
    registration's confirmation page warns about before staff register it anyway."""
    rule = procedure.uniqueness
    kind = RULE_KIND.get(Uniqueness(rule)) if rule in Uniqueness.values else None
    if kind is None:
        return []
    keys = applicant_keys(spec=spec, answers=answers, identity=identity)
    digest = keys.person if kind == K.PERSON else keys.household
    if not digest:
        return []
    return [
        key.application
        for key in DuplicateKey.objects.select_related("application").filter(
            procedure=procedure,
            kind=kind,
            digest=digest,
            period=period_of(rule, at),
            holds=True,
        )
    ]


def claim_uniqueness(
    *,
    application: Application,
    procedure: Procedure,
    spec: FormSpec,
    answers: Mapping[str, Any],
    identity: VerifiedIdentity | None,
    refuse: bool,
) -> ClaimOutcome:
    """Store ``application``'s keys and claim the procedure's rule, inside the caller's
    transaction (a savepoint around the claim, so a lost race leaves that transaction usable).

    With ``refuse`` (online submissions) a claim already held raises
    :class:`DuplicateApplication` and the caller's transaction must roll back. Without it
    (counter and mail registrations) the application is stored with a non-holding key and
    the holders are returned in ``conflicts``: staff see them as possible duplicates.
    ``answers`` are the normalised (not sealed) answers.
    """
    keys = applicant_keys(spec=spec, answers=answers, identity=identity)
    rule = procedure.uniqueness
    ruled = RULE_KIND.get(Uniqueness(rule)) if rule in Uniqueness.values else None
    period = period_of(rule, application.arrived_at)
    kinds: list[str] = []
    conflicts: list[int] = []
    held = False
    # The keys no rule claims are stored in one statement (every submission stores them).
    plain: list[DuplicateKey] = []
    for kind, digest in ((K.PERSON, keys.person), (K.HOUSEHOLD, keys.household)):
        if not digest:
            continue
        row = DuplicateKey(
            organisation_id=application.organisation_id,
            procedure=procedure,
            application=application,
            kind=kind,
            digest=digest,
            period=period,
            verified=keys.verified and kind == K.PERSON,
            created_at=application.arrived_at,
        )
        kinds.append(kind)
        if kind != ruled:
            plain.append(row)
            continue
        try:
            with transaction.atomic():
                row.holds = True
                row.save()
            held = True
        except IntegrityError:
            holder = (
                DuplicateKey.objects.select_related("application")
                .filter(procedure=procedure, kind=kind, digest=digest, period=period, holds=True)
                .first()
            )
            if holder is None:  # released between the insert and this read: try once more
                with transaction.atomic():
                    row.save()
                held = True
                continue
            if refuse:
                raise _refusal(application, procedure, holder, kind, period) from None
            row.pk = None
            row.holds = False
            row.save()
            conflicts.append(holder.application_id)
    if plain:
        DuplicateKey.objects.bulk_create(plain)
    return ClaimOutcome(kinds=tuple(kinds), held=held, conflicts=tuple(conflicts))


def duplicate_refusal_record(
    error: DuplicateApplication, *, applicant: User | None, now: datetime
) -> None:
    """Record a refused duplicate in the audit log, in a transaction of its own (the
    submission's was rolled back). Ids only: who was refused, which application held it."""
    account = applicant if applicant is not None and applicant.pk else None
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.APPLICATION_DUPLICATE_REFUSED,
            now=now,
            organisation=Organisation.objects.get(pk=error.organisation_id),
            actor=account,
            actor_label="申請者" if account is not None else "申請者（アカウントなし）",
            target_type="procedure",
            target_id=error.procedure_id,
            detail={
                "first": error.first_id,
                "kind": error.kind,
                "period": error.period,
                "same_account": error.same_account,
            },
        )


def claims_release(application: Application, *, now: datetime) -> int:
    """Give back ``application``'s keys (it was withdrawn or rejected), inside the caller's
    transaction; the earliest live application waiting on a released claim takes it over.
    Returns how many keys were released."""
    released = list(
        DuplicateKey.objects.filter(application_id=application.pk, released_at__isnull=True)
    )
    if not released:
        return 0
    DuplicateKey.objects.filter(pk__in=[k.pk for k in released]).update(
        holds=False, released_at=now
    )
    procedure = Procedure.objects.get(pk=application.procedure_id)
    ruled = RULE_KIND.get(Uniqueness(procedure.uniqueness))
    for key in released:
        if not key.holds or key.kind != ruled:
            continue
        waiting = (
            DuplicateKey.objects.filter(
                procedure_id=key.procedure_id,
                kind=key.kind,
                digest=key.digest,
                period=key.period,
                holds=False,
                released_at__isnull=True,
            )
            .exclude(application_id=application.pk)
            .order_by("application__arrived_at", "application_id")
            .first()
        )
        if waiting is not None:
            try:
                with transaction.atomic():
                    DuplicateKey.objects.filter(pk=waiting.pk).update(holds=True)
            except IntegrityError:
                pass  # someone else already holds it again
    return len(released)
