"""Identity proofing recorded for an account (身元確認): what raises it above level 1.

Staff see the resident's identity documents — at the counter (``counter_proofing``), or an
image attached to an application (``image_proofing``) — after the usual 本人確認書類 rule: one
document with the holder's photo, or two without. They confirm or correct the name, address
and birth date as the documents show them, and record it (:func:`identity_proofing_record`).
A valid record (not revoked, not past ``valid_until``) gives the account 身元確認 level 2
(:func:`account_proofing`); its attributes are the verified ones.

Counter staff find the account by the resident's 本人確認コード (:func:`proofing_code_issue`
on the resident's my page): 8 characters, 30 minutes, one use; only its hash is stored. Each
look-up is audited; failed look-ups are limited per staff member and per client address.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Final

from django.db import transaction
from django.db.models import Q

from madoguchi.audit.selectors import audit_events_count
from madoguchi.audit.services import audit_record
from madoguchi.core.text import strip_invisible
from madoguchi.identity.constants import PHOTO_DOCUMENTS, ProofingDocument, StaffRole

if TYPE_CHECKING:
    from madoguchi.identity.assurance import VerifiedIdentity
    from madoguchi.identity.models import IdentityProofing, Staff, User

CODE_LENGTH: Final = 8
CODE_TTL: Final = timedelta(minutes=30)
#: Without look-alikes (0/O, 1/I/L), so a code read from a phone is typed right.
CODE_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LOOKUP_WINDOW: Final = timedelta(minutes=15)
LOOKUP_MAX_FAILURES_STAFF: Final = 10
LOOKUP_MAX_FAILURES_ADDRESS: Final = 30
#: Who may record or revoke proofing (viewers only read).
PROOFING_ROLES: Final = (StaffRole.ADMIN, StaffRole.REVIEWER)
METHODS: Final = ("counter_proofing", "image_proofing")


class ProofingRefused(Exception):
    """What staff (or the resident) read when proofing cannot be done: Japanese."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _valid(now: datetime) -> Q:
    return Q(revoked_at__isnull=True) & (Q(valid_until__isnull=True) | Q(valid_until__gt=now))


def account_proofing(user: User, *, now: datetime | None = None) -> VerifiedIdentity | None:
    """The strongest identity proofing on record for ``user``, or None when there is none.

    Every valid record is level 2; the latest one wins (its attributes are the freshest).
    """
    from madoguchi.core.time import now as current
    from madoguchi.identity.assurance import VerifiedAttributes, VerifiedIdentity
    from madoguchi.identity.models import IdentityProofing

    if user.pk is None:
        return None
    at = now or current()
    record = (
        IdentityProofing.objects.filter(_valid(at), user_id=user.pk)
        .order_by("-recorded_at", "-id")
        .first()
    )
    if record is None:
        return None
    return VerifiedIdentity(
        ial=2,
        aal=1,
        methods=(record.method,),
        subject=f"proofing:{record.pk}",
        attributes=VerifiedAttributes(
            name=record.name,
            address=record.address,
            birth_date=record.birth_date.isoformat(),
            source=record.method,
        ),
        verified_at=record.recorded_at.isoformat(),
    )


def proofings_of(*, user: User) -> list[IdentityProofing]:
    """Every record of ``user`` (valid, expired and revoked), newest first, for their page."""
    from madoguchi.identity.models import IdentityProofing

    return list(
        IdentityProofing.objects.filter(user=user)
        .select_related("organisation")
        .order_by("-recorded_at", "-id")
    )


def proofings_recorded_by(*, organisation_id: int, limit: int = 50) -> list[IdentityProofing]:
    """The latest records ``organisation`` made (for its counter page), newest first."""
    from madoguchi.identity.models import IdentityProofing

    return list(
        IdentityProofing.objects.filter(organisation_id=organisation_id)
        .select_related("user")
        .order_by("-recorded_at", "-id")[:limit]
    )


# --- The 本人確認コード -------------------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def code_normalise(raw: object) -> str | None:
    """The code as typed (全角, lower case, spaces and hyphens allowed) or None."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    text = unicodedata.normalize("NFKC", raw).upper()
    text = "".join(ch for ch in text if ch not in " -‐－ー\t")
    if len(text) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in text):
        return None
    return text


def proofing_code_issue(*, user: User, now: datetime) -> tuple[str, datetime]:
    """A new 本人確認コード for ``user`` (any earlier unused one stops working), and when it
    expires. Only its hash is stored; the code itself is shown once. Audited."""
    from madoguchi.identity.models import ProofingCode

    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + CODE_TTL
    with transaction.atomic(durable=True):
        ProofingCode.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
        ProofingCode.objects.create(
            user=user, code_hash=_code_hash(code), created_at=now, expires_at=expires
        )
        audit_record(
            action="resident.proofing_code_issued",
            now=now,
            actor=user,
            actor_label="住民",
            target_type="user",
            target_id=user.pk,
        )
    return code, expires


@dataclass(frozen=True)
class ProofingSubject:
    """The account a code names and what the resident registered (to compare with the
    documents): never more than the counter needs."""

    user: User
    code: str
    name: str
    name_kana: str
    address: str
    birth_date: date | None


def _staff_check(staff: Staff) -> None:
    if not staff.active or staff.role not in PROOFING_ROLES:
        raise ProofingRefused("この操作は審査担当または団体管理者だけができます。", status=403)


def _lookup(code: str | None, now: datetime) -> User | None:
    from madoguchi.identity.models import ProofingCode
    from madoguchi.identity.services import is_resident

    if code is None:
        return None
    found = (
        ProofingCode.objects.select_related("user")
        .filter(code_hash=_code_hash(code), used_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if found is None:
        return None
    user = found.user
    if not user.is_active or user.email_verified_at is None or not is_resident(user):
        return None
    return user


CODE_UNKNOWN: Final = (
    "この本人確認コードは見つからないか、期限が切れています。"
    "住民の方にマイページの「本人確認」で新しいコードを表示してもらってください。"
)


def proofing_code_lookup(
    *, staff: Staff, code: object, address: str | None, now: datetime
) -> ProofingSubject:
    """The account a resident's 本人確認コード names, with what they registered, for counter
    staff. Reads, and records the look-up (``proofing.looked_up`` or
    ``proofing.lookup_failed``) in a transaction of its own. The code stays usable until the
    proofing is recorded.

    Raises :class:`ProofingRefused`: role (403), too many failed look-ups by this staff member
    or from this address in :data:`LOOKUP_WINDOW` (429, before the code is even looked up),
    or an unknown, expired or used code (422).
    """
    _staff_check(staff)
    since = now - LOOKUP_WINDOW
    failed = "proofing.lookup_failed"
    if audit_events_count(
        action=failed, since=since, actor_id=staff.user_id
    ) >= LOOKUP_MAX_FAILURES_STAFF or (
        address is not None
        and audit_events_count(action=failed, since=since, address=address)
        >= LOOKUP_MAX_FAILURES_ADDRESS
    ):
        raise ProofingRefused(
            "本人確認コードの照会に続けて失敗したため、しばらく照会できません。"
            "15分ほど待ってから、もう一度お試しください。",
            status=429,
        )
    normalised = code_normalise(code)
    user = _lookup(normalised, now)
    with transaction.atomic(durable=True):
        audit_record(
            action="proofing.looked_up" if user is not None else failed,
            now=now,
            organisation=staff.organisation,
            actor=staff.user,
            actor_label=str(staff.user),
            target_type="user" if user is not None else "",
            target_id=user.pk if user is not None else "",
            detail={"address": address or ""},
        )
    if user is None or normalised is None:
        raise ProofingRefused(CODE_UNKNOWN)
    from madoguchi.identity.models import ResidentProfile

    profile = ResidentProfile.objects.filter(user=user).first()
    return ProofingSubject(
        user=user,
        code=normalised,
        name=f"{profile.family_name}　{profile.given_name}".strip("　") if profile else "",
        name_kana=(
            f"{profile.family_name_kana}　{profile.given_name_kana}".strip("　") if profile else ""
        ),
        address=profile.address if profile else "",
        birth_date=profile.birth_date if profile else None,
    )


# --- Recording and revoking -------------------------------------------------------------------


def documents_clean(raw: object) -> list[str]:
    """The documents seen, checked against the rule: one with a photo, or two without.
    Raises :class:`ProofingRefused` otherwise."""
    values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
    known = set(ProofingDocument.values)
    chosen = sorted({v for v in values if isinstance(v, str) and v in known})
    if len(chosen) != len({v for v in values if isinstance(v, str)}) or len(values) > 20:
        raise ProofingRefused("確認した書類は、一覧から選んでください。")
    photo = [d for d in chosen if d in PHOTO_DOCUMENTS]
    if not photo and len(chosen) < 2:
        raise ProofingRefused(
            "顔写真付きの書類（マイナンバーカード、運転免許証など）を1点、"
            "または顔写真のない書類（健康保険の資格確認書と年金手帳など）を2点確認してください。"
        )
    return chosen


def _text(raw: object, *, label: str, limit: int) -> str:
    text = strip_invisible(raw).strip() if isinstance(raw, str) else ""
    if not text:
        raise ProofingRefused(f"{label}を、書類のとおりに入力してください。")
    if len(text) > limit:
        raise ProofingRefused(f"{label}は{limit}文字以内で入力してください。")
    return text


def _birth_date(raw: object, now: datetime) -> date:
    value: date | None
    if isinstance(raw, date):
        value = raw
    else:
        try:
            value = date.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            value = None
    if value is None or value.year < 1900 or value > now.date():
        raise ProofingRefused("生年月日を、書類のとおりに入力してください（例: 1990-04-01）。")
    return value


def identity_proofing_record(
    *,
    staff: Staff,
    method: str,
    documents: object,
    name: object,
    address: object,
    birth_date: object,
    now: datetime,
    code: object = None,
    applicant: User | None = None,
    application_id: int | None = None,
    valid_until: datetime | None = None,
) -> IdentityProofing:
    """Record that ``staff`` checked a resident's identity documents: 身元確認 level 2.

    ``counter_proofing`` names the resident by their 本人確認コード (``code``), which is spent
    here (a code records once); ``image_proofing`` names the ``applicant`` of the
    application ``application_id`` (the console has already found it in the staff member's
    organisation). ``documents`` must follow the rule of :func:`documents_clean`; name,
    address and birth date are as the documents show them. One transaction: the record, the
    spent code, the audit event (``proofing.recorded``; ids and document kinds only).

    Raises :class:`ProofingRefused` (Japanese; nothing stored) for a role that may not
    record, an unknown/expired/used code, a staff or unknown account, documents that do not
    prove identity, or missing/oversized attributes.
    """
    from madoguchi.identity.models import IdentityProofing, ProofingCode
    from madoguchi.identity.services import is_resident

    _staff_check(staff)
    if method not in METHODS:
        raise ProofingRefused("確認の方法が正しくありません。")
    chosen = documents_clean(documents)
    clean_name = _text(name, label="氏名", limit=128)
    clean_address = _text(address, label="住所", limit=256)
    clean_birth = _birth_date(birth_date, now)
    with transaction.atomic(durable=True):
        if method == "counter_proofing":
            normalised = code_normalise(code)
            user = _lookup(normalised, now)
            if user is None or normalised is None:
                raise ProofingRefused(CODE_UNKNOWN)
            spent = ProofingCode.objects.filter(
                code_hash=_code_hash(normalised), used_at__isnull=True
            ).update(used_at=now)
            if not spent:
                raise ProofingRefused(CODE_UNKNOWN)
            application_id = None
        else:
            user = applicant
            if user is None or application_id is None or not is_resident(user):
                raise ProofingRefused(
                    "この申請の申請者は住民のアカウントではないため、記録できません。"
                )
        record = IdentityProofing.objects.create(
            user=user,
            organisation=staff.organisation,
            method=method,
            documents=chosen,
            name=clean_name,
            address=clean_address,
            birth_date=clean_birth,
            recorded_by=staff.user,
            recorded_by_label=str(staff.user),
            recorded_at=now,
            valid_until=valid_until,
            application_id=application_id,
        )
        audit_record(
            action="proofing.recorded",
            now=now,
            organisation=staff.organisation,
            actor=staff.user,
            actor_label=str(staff.user),
            target_type="user",
            target_id=user.pk,
            detail={
                "proofing": record.pk,
                "method": method,
                "documents": chosen,
                "application": application_id or "",
            },
        )
    return record


def identity_proofing_revoke(
    *, staff: Staff, proofing_id: int, reason: object, now: datetime
) -> bool:
    """Revoke a proofing record ``staff``'s organisation made (a mistake, a forged document):
    the account loses level 2 from it at once. False when there is no such unrevoked record
    of this organisation (another organisation's record is not found, whatever else was
    posted). Audited with the reason. Raises :class:`ProofingRefused` for a role that may not,
    or a missing or overlong reason (nothing changes)."""
    from madoguchi.identity.models import IdentityProofing

    _staff_check(staff)
    with transaction.atomic(durable=True):
        found = (
            IdentityProofing.objects.select_for_update()
            .filter(pk=proofing_id, organisation=staff.organisation, revoked_at__isnull=True)
            .first()
        )
        if found is None:
            return False
        text = _text(reason, label="取り消す理由", limit=500)
        found.revoked_at = now
        found.revoked_by = staff.user
        found.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            action="proofing.revoked",
            now=now,
            organisation=staff.organisation,
            actor=staff.user,
            actor_label=str(staff.user),
            target_type="proofing",
            target_id=proofing_id,
            reason=text,
            detail={"user": found.user_id},
        )
    return True
