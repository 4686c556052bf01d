"""利用者登録の書き込み (the write path of registrations): apply online, confirm at the
counter, approve, reject, close.

Rules, decided here (and shown to residents in plain Japanese on the registration page):

- An individual registers themselves; a group registers with its 代表者 (the applicant, who
  holds the account and books) and its members — at least :data:`MIN_GROUP_MEMBERS` people
  including the 代表者, at most :data:`MAX_MEMBERS`.
- The account holder (the individual, the group's 代表者) must be at least
  ``ReservationSettings.min_holder_age`` (18) years old on the day of the application.
- One person (recognised by :func:`identity_key_of`, and by the account for the applicant)
  holds at most ``max_individual`` (1) individual registrations and is in at most
  ``max_groups`` (2) group registrations, counting pending and approved ones. The applicant
  over the cap is refused; another member over the cap holds the group for staff (the
  applicant is not told who else is registered where).
- A group whose members are, by ``overlap_percent`` (50 %) or more, members of another
  active group is held for staff with the other group's number: one team holding many
  registration cards (to enter a lottery many times) is the attack this stops.
- With the identity level ``online_ial`` (2) and no flag, the registration is approved at
  once; otherwise it waits (確認待ち) for the applicant to bring an identity document to the
  counter, or for staff to look at the flag.

Residency (在住・在勤・在学) is recorded per person and checked per facility when booking
(:mod:`madoguchi.reservations.eligibility`). Names, kana and birth dates are never logged
nor put in audit details; mails name the registration number only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.roles import reverse_any
from madoguchi.core.text import visible_text
from madoguchi.core.time import now as _now
from madoguchi.core.time import to_tokyo
from madoguchi.identity.assurance import VerifiedIdentity
from madoguchi.identity.models import Staff, User
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.reservations.constants import RegistrationKind, RegistrationStatus, Residency
from madoguchi.reservations.models import Registration, RegistrationMember, ReservationSettings
from madoguchi.reservations.models.registrations import CounterDocument, identity_key_of
from madoguchi.reservations.services import ReservationError
from madoguchi.tenants.models import Organisation

#: A group lists at most this many people (代表者 included).
MAX_MEMBERS: Final = 100
#: A group is at least this many people (代表者 included).
MIN_GROUP_MEMBERS: Final = 2
MAX_NAME: Final = 50
MAX_KANA: Final = 100
MAX_GROUP_NAME: Final = 100
MAX_REASON: Final = 500
#: Registrations in these statuses count toward the caps and the overlap.
ACTIVE: Final = (RegistrationStatus.PENDING, RegistrationStatus.APPROVED)
OLDEST_BIRTH: Final = date(1900, 1, 1)


@dataclass(frozen=True)
class MemberInput:
    """One person as typed (the view turns each form row into one)."""

    name: str
    kana: str
    birth_date: date | None
    residency: str


def age_on(birth: date, day: date) -> int:
    """Full years of age on ``day`` (a birthday on 29 February counts on 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class _Person:
    name: str
    kana: str
    birth_date: date
    residency: str


def _clean_member(member: MemberInput, row: int, today: date) -> _Person:
    where = "登録する方" if row == 0 else f"{row}人目の構成員"
    name = visible_text(member.name).replace("\n", " ")
    kana = visible_text(member.kana).replace("\n", " ")
    if not name:
        raise ReservationError(f"{where}の氏名を入力してください。", code="invalid")
    if len(name) > MAX_NAME:
        raise ReservationError(
            f"{where}の氏名は{MAX_NAME}文字以内で入力してください。", code="invalid"
        )
    if not kana:
        raise ReservationError(f"{where}のふりがなを入力してください。", code="invalid")
    if len(kana) > MAX_KANA:
        raise ReservationError(
            f"{where}のふりがなは{MAX_KANA}文字以内で入力してください。", code="invalid"
        )
    if member.birth_date is None:
        raise ReservationError(
            f"{where}の生年月日を、正しい日付で入力してください。", code="invalid"
        )
    if member.birth_date > today:
        raise ReservationError(f"{where}の生年月日が未来の日付です。", code="invalid")
    if member.birth_date < OLDEST_BIRTH:
        raise ReservationError(f"{where}の生年月日を確かめてください。", code="invalid")
    if member.residency not in Residency.values:
        raise ReservationError(f"{where}の市との関係を選んでください。", code="invalid")
    return _Person(name=name, kana=kana, birth_date=member.birth_date, residency=member.residency)


def _new_number() -> str:
    return f"R{secrets.randbelow(10**8):08d}"


def _insert_registration(**fields: object) -> Registration:
    for _ in range(5):
        try:
            with transaction.atomic():
                return Registration.objects.create(number=_new_number(), **fields)
        except IntegrityError:
            continue
    raise ReservationError("利用者番号を発行できませんでした。もう一度お試しください。")


def _registrations_of_key(organisation: Organisation, key: str, kind: str) -> set[int]:
    return set(
        RegistrationMember.objects.filter(
            organisation=organisation,
            identity_key=key,
            registration__kind=kind,
            registration__status__in=ACTIVE,
        ).values_list("registration_id", flat=True)
    )


def _mail(registration: Registration, subject: str, body: str, now: datetime) -> None:
    user = registration.user
    if user is None or not user.email:
        return
    url = django_settings.PORTAL_URL.rstrip("/") + reverse_any(
        "portal:reservation_registration_status", args=[registration.organisation.lg_code]
    )
    outbox_enqueue_email(
        to=user.email,
        subject=f"【{registration.organisation.name}】{subject}",
        body=(
            f"利用者番号 {registration.number} の利用者登録について、お知らせします。\n\n"
            f"{body}\n\n登録の状況は、次のページで確かめられます。\n{url}\n"
        ),
        now=now,
        organisation=registration.organisation,
    )


def registration_apply(
    *,
    organisation: Organisation,
    user: User,
    identity: VerifiedIdentity | None,
    kind: str,
    group_name: str = "",
    applicant: MemberInput,
    members: Sequence[MemberInput] = (),
    now: datetime | None = None,
) -> Registration:
    """利用者登録の申請 by a logged-in resident, for themselves or for a group they represent.

    Guarantees: every rule of the module text is checked before anything is stored; the
    registration and its members are stored together, APPROVED when the identity level is
    ``online_ial`` or more and nothing is flagged, otherwise PENDING (with the flag for staff);
    a receipt mail is queued; an audit event records the number and counts only. Raises
    :class:`ReservationError` (nothing stored) for an invalid row, an age, a cap or a kind.
    """
    now = now or _now()
    today = to_tokyo(now).date()
    settings = ReservationSettings.of(organisation)
    if kind not in RegistrationKind.values:
        raise ReservationError("登録の種類を選んでください。", code="invalid")
    if len(members) > MAX_MEMBERS - 1:
        raise ReservationError(f"構成員は代表者を含めて{MAX_MEMBERS}人までです。", code="invalid")
    holder = _clean_member(applicant, 0, today)
    if age_on(holder.birth_date, today) < settings.min_holder_age:
        who = "代表者" if kind == RegistrationKind.GROUP else "登録する方"
        raise ReservationError(
            f"{who}は{settings.min_holder_age}歳以上の方に限ります。", code="age"
        )
    people = [holder]
    if kind == RegistrationKind.GROUP:
        name = visible_text(group_name).replace("\n", " ")
        if not name:
            raise ReservationError("団体名を入力してください。", code="invalid")
        if len(name) > MAX_GROUP_NAME:
            raise ReservationError(
                f"団体名は{MAX_GROUP_NAME}文字以内で入力してください。", code="invalid"
            )
        people += [_clean_member(m, row, today) for row, m in enumerate(members, start=1)]
        if len(people) < MIN_GROUP_MEMBERS:
            raise ReservationError(
                f"団体は代表者を含めて{MIN_GROUP_MEMBERS}人以上で登録してください。",
                code="invalid",
            )
    else:
        if members:
            raise ReservationError("個人の登録には構成員を書けません。", code="invalid")
        name = holder.name
    keys = [identity_key_of(kana=p.kana, name=p.name, birth_date=p.birth_date) for p in people]
    seen: dict[str, int] = {}
    for row, key in enumerate(keys):
        if key in seen:
            first = "代表者" if seen[key] == 0 else f"{seen[key]}人目の構成員"
            raise ReservationError(
                f"{row}人目の構成員は、{first}と同じ方です（ふりがなと生年月日が同じです）。",
                code="duplicate",
            )
        seen[key] = row
    cap = settings.max_individual if kind == RegistrationKind.INDIVIDUAL else settings.max_groups
    label = "個人" if kind == RegistrationKind.INDIVIDUAL else "団体"

    with transaction.atomic(durable=True):
        # Serialise one account's applications (the caps are counted under this lock). Two
        # accounts of one person applying at the same instant could both pass the cap by
        # identity key; staff see both, with the same members, in the list.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        own = Registration.objects.filter(
            organisation=organisation, user=user, kind=kind, status__in=ACTIVE
        ).count()
        held = _registrations_of_key(organisation, keys[0], kind)
        if max(own, len(held)) >= cap:
            raise ReservationError(
                f"{label}の利用者登録は、1人{cap}件までです。すでに登録があります"
                "（廃止してから登録し直すか、窓口にご相談ください）。",
                code="cap",
            )
        flags: list[str] = []
        over = sum(
            1 for key in keys[1:] if len(_registrations_of_key(organisation, key, kind)) >= cap
        )
        if over:
            flags.append(
                f"構成員のうち{over}人が、すでに{label}登録の上限（{cap}件）に達しています。"
            )
        if kind == RegistrationKind.GROUP:
            mine = set(keys)
            shared: dict[int, int] = {}
            for other_id in RegistrationMember.objects.filter(
                organisation=organisation,
                identity_key__in=mine,
                registration__kind=RegistrationKind.GROUP,
                registration__status__in=ACTIVE,
            ).values_list("registration_id", flat=True):
                shared[other_id] = shared.get(other_id, 0) + 1
            for other_id, count in sorted(shared.items()):
                if count * 100 >= settings.overlap_percent * len(mine):
                    number = Registration.objects.get(pk=other_id).number
                    flags.append(
                        f"構成員{len(mine)}人のうち{count}人が、団体 {number} の構成員と同じです"
                        f"（基準 {settings.overlap_percent}%）。"
                    )
        level = identity.ial if identity is not None else 0
        approved = level >= settings.online_ial and not flags
        registration = _insert_registration(
            organisation=organisation,
            user=user,
            kind=kind,
            name=name,
            residency=holder.residency,
            status=RegistrationStatus.APPROVED if approved else RegistrationStatus.PENDING,
            flag_reason="\n".join(flags),
            decided_at=now if approved else None,
        )
        RegistrationMember.objects.bulk_create(
            [
                RegistrationMember(
                    organisation=organisation,
                    registration=registration,
                    representative=row == 0,
                    name=person.name,
                    kana=person.kana,
                    birth_date=person.birth_date,
                    residency=person.residency,
                    identity_key=key,
                    order=row,
                )
                for row, (person, key) in enumerate(zip(people, keys, strict=True))
            ]
        )
        audit_record(
            action=AuditAction.REGISTRATION_APPLIED,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="registration",
            target_id=registration.pk,
            detail={
                "kind": kind,
                "members": len(people),
                "status": registration.status,
                "flagged": bool(flags),
                "ial": level,
            },
        )
        if approved:
            body = "利用者登録が済みました。施設の予約や抽選の申込みができます。"
        else:
            body = (
                "利用者登録の申請を受け付けました。まだ予約はできません。\n"
                "本人確認書類（マイナンバーカード、運転免許証など）と、在勤・在学の方は社員証・学生証を"
                "窓口にお持ちください。確認が済むと予約できるようになります。"
            )
        _mail(registration, "利用者登録の申請を受け付けました", body, now)
        return registration


def _staff_pending(organisation: Organisation, staff: Staff, registration_id: int) -> Registration:
    if staff.organisation_id != organisation.pk:
        raise Registration.DoesNotExist
    registration = (
        Registration.objects.select_for_update(of=("self",))
        .select_related("organisation", "user")
        .get(pk=registration_id, organisation=organisation)
    )
    if registration.status != RegistrationStatus.PENDING:
        raise ReservationError("この利用者登録は、確認待ちではありません。", code="state")
    return registration


def registration_confirm_at_counter(
    *,
    organisation: Organisation,
    staff: Staff,
    registration_id: int,
    document: str,
    now: datetime | None = None,
) -> Registration:
    """窓口での確認: staff saw the applicant's identity document and approve the registration.

    Guarantees: records who confirmed, when, and which kind of document (never its number);
    the registration becomes APPROVED; the resident is mailed; audited. Raises
    :class:`ReservationError` for an unknown document or a registration not pending;
    ``Registration.DoesNotExist`` for another organisation's (or staff of another)."""
    now = now or _now()
    if document not in CounterDocument.values:
        raise ReservationError("確認した本人確認書類を選んでください。", code="invalid")
    with transaction.atomic(durable=True):
        registration = _staff_pending(organisation, staff, registration_id)
        registration.status = RegistrationStatus.APPROVED
        registration.confirmed_by = staff
        registration.confirmed_at = now
        registration.decided_at = now
        registration.document_seen = document
        registration.save(
            update_fields=[
                "status",
                "confirmed_by",
                "confirmed_at",
                "decided_at",
                "document_seen",
                "updated_at",
            ]
        )
        audit_record(
            action=AuditAction.REGISTRATION_CONFIRMED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            target_type="registration",
            target_id=registration.pk,
            detail={"document": document, "flagged": bool(registration.flag_reason)},
        )
        _mail(
            registration,
            "利用者登録が済みました",
            "窓口で本人確認ができたので、利用者登録が済みました。施設の予約や抽選の申込みができます。",
            now,
        )
        return registration


def registration_approve(
    *,
    organisation: Organisation,
    staff: Staff,
    registration_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> Registration:
    """承認: staff approve a pending registration (e.g. a flagged overlap they looked into).

    Guarantees: APPROVED, the note kept, the resident mailed, audited. Raises
    :class:`ReservationError` when not pending; ``Registration.DoesNotExist`` for another
    organisation's."""
    now = now or _now()
    note = visible_text(reason)
    if len(note) > MAX_REASON:
        raise ReservationError(f"理由は{MAX_REASON}文字以内で入力してください。", code="invalid")
    with transaction.atomic(durable=True):
        registration = _staff_pending(organisation, staff, registration_id)
        registration.status = RegistrationStatus.APPROVED
        registration.decided_at = now
        registration.decision_reason = note
        registration.save(update_fields=["status", "decided_at", "decision_reason", "updated_at"])
        audit_record(
            action=AuditAction.REGISTRATION_APPROVED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            target_type="registration",
            target_id=registration.pk,
            reason=note,
        )
        _mail(
            registration,
            "利用者登録が済みました",
            "利用者登録を承認しました。施設の予約や抽選の申込みができます。",
            now,
        )
        return registration


def registration_reject(
    *,
    organisation: Organisation,
    staff: Staff,
    registration_id: int,
    reason: str,
    now: datetime | None = None,
) -> Registration:
    """不承認: staff refuse a pending registration, with the reason the resident is told.

    Guarantees: REJECTED with the reason, the resident mailed with it, audited. Raises
    :class:`ReservationError` without a reason, with a too long one, or when not pending;
    ``Registration.DoesNotExist`` for another organisation's."""
    now = now or _now()
    note = visible_text(reason)
    if not note:
        raise ReservationError(
            "不承認の理由を入力してください（登録した方に伝えます）。", code="invalid"
        )
    if len(note) > MAX_REASON:
        raise ReservationError(f"理由は{MAX_REASON}文字以内で入力してください。", code="invalid")
    with transaction.atomic(durable=True):
        registration = _staff_pending(organisation, staff, registration_id)
        registration.status = RegistrationStatus.REJECTED
        registration.decided_at = now
        registration.decision_reason = note
        registration.save(update_fields=["status", "decided_at", "decision_reason", "updated_at"])
        audit_record(
            action=AuditAction.REGISTRATION_REJECTED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            target_type="registration",
            target_id=registration.pk,
            reason=note,
        )
        _mail(
            registration,
            "利用者登録を承認できませんでした",
            f"申し訳ありませんが、利用者登録を承認できませんでした。\n理由: {note}\n"
            "ご不明な点は、施設の窓口にお問い合わせください。",
            now,
        )
        return registration


def registration_close(
    *,
    organisation: Organisation,
    registration_id: int,
    user: User | None = None,
    staff: Staff | None = None,
    now: datetime | None = None,
) -> Registration:
    """廃止: the resident (their own registration) or staff close a registration.

    Guarantees: CLOSED (no more bookings or entries with it; bookings made stay as they are);
    it no longer counts toward the caps; audited. Raises :class:`ReservationError` when it is
    already closed or rejected; ``Registration.DoesNotExist`` for another organisation's or
    another resident's."""
    now = now or _now()
    if (user is None) == (staff is None):
        raise ValueError("registration_close needs exactly one of user and staff")
    with transaction.atomic(durable=True):
        found = Registration.objects.select_for_update().filter(
            pk=registration_id, organisation=organisation
        )
        if user is not None:
            found = found.filter(user=user)
        elif staff is not None and staff.organisation_id != organisation.pk:
            raise Registration.DoesNotExist
        registration = found.get()
        if registration.status not in ACTIVE:
            raise ReservationError("この利用者登録は、すでに終わっています。", code="state")
        registration.status = RegistrationStatus.CLOSED
        registration.closed_at = now
        registration.save(update_fields=["status", "closed_at", "updated_at"])
        audit_record(
            action=AuditAction.REGISTRATION_CLOSED,
            now=now,
            organisation=organisation,
            actor=user if user is not None else staff.user if staff is not None else None,
            target_type="registration",
            target_id=registration.pk,
            detail={"by": "resident" if user is not None else "staff"},
        )
        return registration


__all__ = [
    "MAX_MEMBERS",
    "MemberInput",
    "age_on",
    "registration_apply",
    "registration_approve",
    "registration_close",
    "registration_confirm_at_counter",
    "registration_reject",
]
