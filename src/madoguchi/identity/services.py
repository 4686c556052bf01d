"""Creating and changing accounts and their roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from madoguchi.audit.services import audit_record
from madoguchi.core.roles import reverse_any
from madoguchi.core.tenancy import tenant_scope
from madoguchi.identity.constants import NoticeMode, StaffRole
from madoguchi.identity.mfa import totp_reset
from madoguchi.identity.models import (
    AccessToken,
    GroupOperator,
    PasskeyCredential,
    ProofingCode,
    ResidentProfile,
    Staff,
    User,
)
from madoguchi.identity.tokens import staff_tokens_end
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.tenants.models import Organisation, SharedGroup


def staff_upsert(
    *,
    organisation: Organisation,
    email: str,
    password: str,
    role: StaffRole,
    display_name: str = "",
    department: str = "",
    now: datetime | None = None,
) -> Staff:
    """Create (or reset) a staff account of ``organisation`` with ``role`` (master loads,
    the demo, tests). A role change or re-enabling ends the member's API tokens.

    Raises ``ValueError`` when the organisation is a ward (not a tenant) or inactive, or when
    the e-mail already belongs to staff of another organisation: staff belong to exactly one.
    """
    if not organisation.is_tenant or not organisation.active:
        raise ValueError(f"{organisation.display_name} には職員を登録できません。")
    with transaction.atomic():
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            user = User.objects.create_user(email, password, display_name=display_name)
        else:
            # Hashing is deliberately slow (argon2): skip it when the password is unchanged.
            if not user.check_password(password):
                user.set_password(password)
            user.display_name = display_name or user.display_name
            user.is_active = True
            user.save()
        staff = Staff.objects.filter(user=user).first()
        if staff is not None and staff.organisation_id != organisation.pk:
            raise ValueError(f"{email} は他の団体の職員として登録済みです。")
        if staff is None:
            staff = Staff(user=user, organisation=organisation)
        elif staff.role != role or not staff.active:
            staff_tokens_end(user=user, now=now or timezone.now(), reason="role_changed")
        staff.role = role
        staff.department = department
        staff.active = True
        staff.save()
    return staff


def group_operator_upsert(
    *, group: SharedGroup, email: str, password: str, display_name: str = ""
) -> GroupOperator:
    """Create (or reset) an operator account of a shared group."""
    with transaction.atomic():
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            user = User.objects.create_user(email, password, display_name=display_name)
        else:
            if not user.check_password(password):
                user.set_password(password)
            user.is_active = True
            user.save()
        operator, _ = GroupOperator.objects.get_or_create(user=user, group=group)
    return operator


# --- Residents (national accounts) ------------------------------------------------------------


class EmailAlreadyRegistered(Exception):
    """Sign-up with an address that has an account. The requester must not learn this: the
    caller shows the same page as for a new account and mails the address's owner instead."""

    def __init__(self, user: User) -> None:
        super().__init__("email already registered")
        self.user = user


class InvalidToken(Exception):
    """A verification link that is malformed, forged, expired or already used."""


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens for the sign-up confirmation link.

    Another salt than password reset (a reset token never verifies an address, nor the other
    way round), and ``email_verified_at`` in the hash, so that verifying spends the token.
    Valid for ``PASSWORD_RESET_TIMEOUT`` (3 days by default).
    """

    key_salt = "madoguchi.identity.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        verified = user.email_verified_at
        verified_text = "" if verified is None else verified.replace(microsecond=0).isoformat()
        return f"{super()._make_hash_value(user, timestamp)}{verified_text}{user.is_active}"


email_verification_tokens: Final = EmailVerificationTokenGenerator()

#: Longer tokens are refused before any decoding (a real one is about 50 characters).
MAX_TOKEN_LENGTH: Final = 200
PROFILE_FIELDS: Final = (
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "postal_code",
    "address",
    "birth_date",
    "phone",
)


def is_resident(user: User) -> bool:
    """A resident is a user who may not use the console in any way: no Staff row (active or
    not), no shared group to operate, not a platform operator (``is_staff``). The resident
    portal logs in, resets and signs up residents only, so that a console account's password
    can never be tried or made "known" there, outside the console's limits."""
    return not (
        user.is_staff
        or Staff.objects.filter(user_id=user.pk).exists()
        or GroupOperator.objects.filter(user_id=user.pk).exists()
    )


def resident_signup(*, email: str, password: str, now: datetime) -> User:
    """Create an unverified resident account for ``email``; it cannot log in until verified.

    The password is checked with the configured validators first (raises Django's
    ``ValidationError`` with Japanese messages), so that a weak password is refused the same
    way whether or not the address exists. Raises :class:`EmailAlreadyRegistered` (carrying
    the existing account, never changed) when the address has an account: the caller must
    answer exactly as for a new account. A step of ``accounts.account_signup``, which records
    the audit event and sends the mail.
    """
    address = User.objects.normalize_email(email.strip()).lower()
    password_validation.validate_password(password, User(email=address))
    with transaction.atomic():
        existing = User.objects.filter(email=address).first()
        if existing is not None:
            raise EmailAlreadyRegistered(existing)
        user = User.objects.create_user(address, password)
    return user


def resident_verification_token_make(*, user: User) -> str:
    """The token of the sign-up confirmation link: ``<uid>.<token>``, URL-safe."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"{uid}.{email_verification_tokens.make_token(user)}"


def _token_user(token: str) -> User:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidToken
    uid, _, secret = token.partition(".")
    try:
        pk = int(urlsafe_base64_decode(uid).decode("ascii"))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidToken from None
    user = User.objects.filter(pk=pk).first()
    if user is None or not user.is_active:
        raise InvalidToken
    if not email_verification_tokens.check_token(user, secret):
        raise InvalidToken
    return user


def resident_verification_token_check(*, token: str) -> User:
    """The unverified account a confirmation link is for; raises :class:`InvalidToken`."""
    user = _token_user(token)
    if user.email_verified_at is not None:
        raise InvalidToken
    return user


def resident_verify_email(*, token: str, now: datetime) -> User:
    """Mark the address of the account in ``token`` as verified; the token is then spent.

    Raises :class:`InvalidToken` for a malformed, forged, expired or used token, or for an
    inactive account. Two concurrent uses verify once.
    """
    user = resident_verification_token_check(token=token)
    with transaction.atomic():
        updated = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
            email_verified_at=now
        )
        if not updated:
            raise InvalidToken
    user.refresh_from_db()
    return user


def resident_password_reset_done(*, user: User, now: datetime) -> User:
    """Record a completed password reset. A reset link proves the mailbox as well as a
    confirmation link does, so an unverified address becomes verified (and an account someone
    else created with this address is now in its owner's hands, with the owner's password)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
            email_verified_at=now
        )
    user.refresh_from_db()
    return user


def resident_profile_update(
    *, user: User, data: Mapping[str, Any], now: datetime
) -> tuple[ResidentProfile, list[str]]:
    """Store the resident's profile (登録情報) from already parsed ``data``.

    Only the keys of :data:`PROFILE_FIELDS` are taken; anything else is ignored. Values must
    fit the columns (raises ``ValueError`` otherwise, storing nothing). Returns the profile
    and the names of the fields that changed (for the caller's audit event: names, never
    values).
    """
    if not is_resident(user):
        raise ValueError("職員のアカウントには住民の登録情報はありません。")
    with transaction.atomic():
        profile, _ = ResidentProfile.objects.select_for_update().get_or_create(user=user)
        changed: list[str] = []
        for name in PROFILE_FIELDS:
            if name not in data:
                continue
            value = data[name]
            if name == "birth_date":
                if value is not None and not isinstance(value, date):
                    raise ValueError("birth_date must be a date")
            else:
                value = "" if value is None else str(value)
                limit = getattr(ResidentProfile._meta.get_field(name), "max_length", 0) or 0
                if len(value) > limit:
                    raise ValueError(f"{name} is longer than {limit}")
            if getattr(profile, name) != value:
                setattr(profile, name, value)
                changed.append(name)
        if changed:
            profile.save()
    return profile, changed


def resident_delete(*, user: User, now: datetime) -> bool:
    """Close a resident's account (a step of ``accounts.account_delete``). Returns True when
    the user row was deleted.

    The account and everything hanging off it (profile, tokens, passkeys, identity proofing)
    is deleted when nothing else
    points to it. When applications still under their organisations' retention point to it,
    the database refuses the deletion (PROTECT) and the account stays only as their
    applicant: deactivated, profile erased, API tokens, passkeys and 本人確認コード deleted
    (identity proofing records stay with the applications they vouch for), the address
    replaced by a
    random one and the password made unusable, so nobody can log in with it and the address
    can sign up again. Raises ``ValueError`` for staff accounts.
    """
    if Staff.objects.filter(user_id=user.pk).exists():
        raise ValueError("職員のアカウントはこの方法では削除できません。")
    user_id = user.pk
    with transaction.atomic():
        try:
            with transaction.atomic():
                user.delete()
            return True
        except ProtectedError:
            pass  # applications point to it: keep the row for them (below)
        ResidentProfile.objects.filter(user_id=user_id).delete()
        AccessToken.objects.filter(user_id=user_id).delete()
        PasskeyCredential.objects.filter(user_id=user_id).delete()
        ProofingCode.objects.filter(user_id=user_id).delete()
        user = User.objects.select_for_update().get(pk=user_id)
        user.email = f"deleted-{user_id}-{secrets.token_hex(8)}@deleted.invalid"
        user.display_name = ""
        user.is_active = False
        user.email_verified_at = None
        user.set_unusable_password()
        user.save()
    return False


# --- Applying without an account (procedures of ial 1) ---------------------------------------

_GUEST_SALT: Final = "madoguchi.identity.guest_email"


def guest_email_token_make(*, email: str, procedure_id: int) -> str:
    """A signed, timestamped token proving that whoever opens it received mail at ``email``
    for this procedure. Salted: no other signed value of the site is accepted as one."""
    return signing.dumps({"e": email, "p": int(procedure_id)}, salt=_GUEST_SALT, compress=True)


def guest_email_token_check(*, token: str, max_age: int) -> tuple[str, int] | None:
    """``(email, procedure_id)`` of a genuine token younger than ``max_age`` seconds, or
    ``None`` for anything forged, tampered with, expired, overlong or malformed."""
    if not isinstance(token, str) or len(token) > 1000 or not token.isascii():
        return None
    try:
        payload = signing.loads(token, salt=_GUEST_SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(payload, dict):
        return None
    email, procedure_id = payload.get("e"), payload.get("p")
    if not isinstance(email, str) or not email or type(procedure_id) is not int:
        return None
    return email, procedure_id


# --- Staff of an organisation, managed by its admins (団体管理者) -------------------------------


class StaffError(ValueError):
    """A staff change that cannot be made; the message is Japanese and says what to do."""


_INVITATION_SALT: Final = "madoguchi.identity.staff_invitation"
#: An invitation link works for a week, and only until a password is set with it.
INVITATION_MAX_AGE: Final = 60 * 60 * 24 * 7
_email_validator: Final = EmailValidator()


def _clean_staff_text(value: object, *, label: str, limit: int) -> str:
    if not isinstance(value, str):
        raise StaffError(f"{label}を文字で入力してください。")
    text = value.strip()
    if len(text) > limit:
        raise StaffError(f"{label}は{limit}文字以内で入力してください。")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise StaffError(f"{label}に使えない文字（制御文字）が含まれています。")
    return text


def _clean_role(role: object) -> StaffRole:
    if role not in StaffRole.values:
        raise StaffError("役割は「団体管理者」「審査担当」「閲覧のみ」から選んでください。")
    return StaffRole(role)


def _invitation_fingerprint(user: User) -> str:
    # Changes when a password is set (or the invitation is sent again): the link is spent.
    return hashlib.sha256(f"{user.pk}:{user.password}".encode()).hexdigest()[:24]


def staff_invitation_token_make(*, user: User) -> str:
    """The signed token of an invitation link (expires after :data:`INVITATION_MAX_AGE`)."""
    return signing.dumps({"u": user.pk, "f": _invitation_fingerprint(user)}, salt=_INVITATION_SALT)


def staff_invitation_check(*, token: object) -> Staff:
    """The invited, active staff member a genuine, unexpired, unspent link is for.

    Raises :class:`InvalidToken` for anything else (forged, expired, used, overlong)."""
    if not isinstance(token, str) or len(token) > 500 or not token.isascii():
        raise InvalidToken
    try:
        payload = signing.loads(token, salt=_INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidToken from None
    if not isinstance(payload, dict) or type(payload.get("u")) is not int:
        raise InvalidToken
    staff = (
        Staff.objects.select_related("user", "organisation")
        .filter(user_id=payload["u"], active=True, user__is_active=True)
        .first()
    )
    if staff is None or not _hmac_equal(_invitation_fingerprint(staff.user), payload.get("f")):
        raise InvalidToken
    return staff


def _hmac_equal(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected, given)


def staff_invite(
    *,
    organisation: Organisation,
    email: object,
    role: object,
    display_name: object = "",
    department: object = "",
    actor: Staff,
    base_url: str,
    now: datetime,
) -> tuple[Staff, str]:
    """Create a staff account of ``organisation`` that has no password yet, mail the invitee
    the link with which they set one (``base_url`` is the site's, e.g. ``https://x.example``),
    and record ``staff.invited``; returns the member and the link's token.

    Inviting again an invitee who has not yet set a password sends a new link (the old one
    stops working). Raises :class:`StaffError` (Japanese) for a malformed address, name or
    role, or for an address that already has an account (a resident's, or staff's): the
    invitation never takes over an existing account. Nothing is stored or sent when it raises.
    """
    address = _clean_staff_text(email, label="メールアドレス", limit=254).lower()
    try:
        _email_validator(address)
    except ValidationError:
        raise StaffError(
            "メールアドレスの形式が正しくありません。例: taro.yamada@city.example.lg.jp"
        ) from None
    role = _clean_role(role)
    name = _clean_staff_text(display_name, label="氏名", limit=128)
    dept = _clean_staff_text(department, label="所属", limit=128)
    if not organisation.is_tenant or not organisation.active:
        raise StaffError(f"{organisation.display_name} には職員を登録できません。")
    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().filter(email=address).first()
        if user is None:
            user = User.objects.create_user(address, None, display_name=name)
            staff = Staff.objects.create(
                user=user, organisation=organisation, role=role, department=dept, active=True
            )
        else:
            existing = Staff.objects.filter(user=user, organisation=organisation).first()
            if existing is None or user.has_usable_password() or not existing.active:
                raise StaffError(
                    "このメールアドレスでは招待できません。既にアカウントがあります。"
                    "別のアドレスを指定してください。"
                )
            staff = existing
            user.set_unusable_password()  # a fresh fingerprint: earlier links stop working
            user.display_name = name or user.display_name
            user.save()
            staff.role = role
            staff.department = dept
            staff.save()
        token = staff_invitation_token_make(user=user)
        outbox_enqueue_email(
            to=user.email,
            subject=f"【{organisation.name}】職員コンソールへの招待",
            body=_invitation_mail(
                organisation=organisation, member=staff, link=_absolute(base_url, token)
            ),
            now=now,
            organisation=organisation,
        )
        _staff_audit("staff.invited", actor=actor, member=staff, now=now, role=staff.role)
    return staff, token


def _absolute(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + reverse_any("console:invitation", args=[token])


def _invitation_mail(*, organisation: Organisation, member: Staff, link: str) -> str:
    days = INVITATION_MAX_AGE // 86400
    return (
        f"{member.user.display_name or member.user.email} 様\n\n"
        f"{organisation.name}の職員コンソール（窓口）に招待されました。"
        f"次のリンクを開いて、パスワードを設定してください（{days}日間有効）。\n\n"
        f"{link}\n\n"
        "パスワードを設定したあと、ログインすると二要素認証（スマートフォンの認証アプリ）の"
        "設定に進みます。\n"
        "このメールに心当たりがない場合は、何もせずに削除してください。\n"
    )


def _staff_audit(
    action: str, *, actor: Staff | None, member: Staff, now: datetime, **detail: Any
) -> None:
    """The audit event of a change to ``member`` (ids and codes only, never names)."""
    who = actor.user if actor is not None else member.user
    audit_record(
        action=action,
        now=now,
        organisation=member.organisation,
        actor=who,
        actor_label=who.email,
        target_type="staff",
        target_id=member.pk,
        detail=detail,
    )


def staff_invitation_accept(*, token: object, password: object, now: datetime) -> Staff:
    """Set the invitee's password through an invitation link; the link is then spent.

    Raises :class:`InvalidToken` (bad link) or Django's ``ValidationError`` (password refused
    by the validators, Japanese messages). Two concurrent uses set the password once.
    Recorded as ``staff.invitation_accepted``.
    """
    staff = staff_invitation_check(token=token)
    if not isinstance(password, str) or len(password) > 4096:
        raise ValidationError("パスワードを入力してください。")
    password_validation.validate_password(password, staff.user)
    # The invitee is not logged in (no tenant row in scope): the audit event is the only
    # tenant row written, and it belongs to the invitee's organisation.
    with (
        tenant_scope([staff.organisation_id]),
        transaction.atomic(durable=True),
    ):
        user = User.objects.select_for_update().get(pk=staff.user_id)
        if not _hmac_equal(_invitation_fingerprint(user), _invitation_fingerprint(staff.user)):
            raise InvalidToken
        user.set_password(password)
        user.save(update_fields=["password", "updated_at"])
        staff.user = user
        _staff_audit("staff.invitation_accepted", actor=staff, member=staff, now=now)
    return staff


def _active_admins(organisation: Organisation) -> list[int]:
    return list(
        Staff.objects.select_for_update()
        .filter(organisation=organisation, role=StaffRole.ADMIN, active=True)
        .values_list("pk", flat=True)
    )


def _staff_for_change(organisation: Organisation, staff_id: int) -> Staff:
    return (
        Staff.objects.select_for_update()
        .select_related("user")
        .get(organisation=organisation, pk=staff_id)
    )


def staff_set_role(
    *, organisation: Organisation, staff_id: int, role: object, actor: Staff, now: datetime
) -> tuple[Staff, str]:
    """Give staff member ``staff_id`` of ``organisation`` another role; returns it and the
    previous role. Recorded as ``staff.role_changed``; a real change ends the member's API
    tokens for good (:func:`~madoguchi.identity.tokens.staff_tokens_end`).

    Raises ``Staff.DoesNotExist`` for another organisation's staff (the caller answers 404),
    :class:`StaffError` for an unknown role or when the change would leave the organisation
    without an active admin.
    """
    new_role = _clean_role(role)
    with transaction.atomic(durable=True):
        admins = _active_admins(organisation)
        staff = _staff_for_change(organisation, staff_id)
        previous = staff.role
        if previous == StaffRole.ADMIN and new_role != StaffRole.ADMIN:
            if staff.active and [pk for pk in admins if pk != staff.pk] == []:
                raise StaffError(
                    "最後の団体管理者の役割は変更できません。先に別の職員を団体管理者にしてください。"
                )
        staff.role = new_role
        staff.save(update_fields=["role", "updated_at"])
        if previous != new_role:
            staff_tokens_end(user=staff.user, now=now, reason="role_changed")
        _staff_audit(
            "staff.role_changed",
            actor=actor,
            member=staff,
            now=now,
            before=previous,
            after=new_role,
        )
    return staff, previous


def staff_set_active(
    *, organisation: Organisation, staff_id: int, active: bool, actor: Staff, now: datetime
) -> Staff:
    """Disable (利用停止) or enable again staff member ``staff_id`` of ``organisation``.

    A disabled member is refused on their next request (the console checks on every page),
    and their API tokens end for good: enabling the member again does not revive them.
    Recorded as ``staff.disabled`` / ``staff.enabled``.
    Raises ``Staff.DoesNotExist`` (another organisation's: 404) or :class:`StaffError` when
    disabling oneself or the last active admin.
    """
    with transaction.atomic(durable=True):
        admins = _active_admins(organisation)
        staff = _staff_for_change(organisation, staff_id)
        if not active:
            if staff.pk == actor.pk:
                raise StaffError("自分自身を利用停止にすることはできません。")
            if staff.role == StaffRole.ADMIN and [pk for pk in admins if pk != staff.pk] == []:
                raise StaffError(
                    "最後の団体管理者は利用停止にできません。先に別の職員を団体管理者にしてください。"
                )
        staff.active = active
        staff.save(update_fields=["active", "updated_at"])
        if not active:
            staff_tokens_end(user=staff.user, now=now, reason="disabled")
        _staff_audit(
            "staff.enabled" if active else "staff.disabled", actor=actor, member=staff, now=now
        )
    return staff


def staff_totp_reset(
    *, organisation: Organisation, staff_id: int, actor: Staff, now: datetime
) -> tuple[Staff, bool]:
    """Remove the second factor of staff member ``staff_id`` of ``organisation`` (lost phone):
    they enrol again at their next login. Returns the member and whether anything was removed.
    Recorded as ``staff.totp_reset``. Raises ``Staff.DoesNotExist`` for another
    organisation's staff."""
    with transaction.atomic(durable=True):
        staff = _staff_for_change(organisation, staff_id)
        removed = totp_reset(user=staff.user)
        _staff_audit("staff.totp_reset", actor=actor, member=staff, now=now, removed=removed)
    return staff, removed


def staff_set_signoff(
    *, organisation: Organisation, staff_id: int, may_sign_off: bool, actor: Staff, now: datetime
) -> Staff:
    """Give or take the sign-off role (決裁権限) of staff member ``staff_id`` of
    ``organisation``: who may sign off decisions that others proposed. Admins only; recorded
    as ``staff.signoff_set``. Raises ``Staff.DoesNotExist`` (another organisation's: 404) and
    :class:`StaffError` (the actor is not an admin, or the member only views)."""
    if actor.organisation_id != organisation.pk or actor.role != StaffRole.ADMIN:
        raise StaffError("決裁権限を変更できるのは団体管理者だけです。")
    with transaction.atomic(durable=True):
        staff = _staff_for_change(organisation, staff_id)
        if may_sign_off and staff.role == StaffRole.VIEWER:
            raise StaffError(
                "閲覧のみの職員には決裁権限を付けられません。先に役割を変更してください。"
            )
        previous = staff.may_sign_off
        staff.may_sign_off = bool(may_sign_off)
        staff.save(update_fields=["may_sign_off", "updated_at"])
        _staff_audit(
            "staff.signoff_set",
            actor=actor,
            member=staff,
            now=now,
            before=previous,
            after=staff.may_sign_off,
        )
    return staff


def staff_notice_mode_set(
    *, organisation: Organisation, staff: Staff, mode: object, now: datetime
) -> Staff:
    """The staff member chooses how they hear of work waiting for them: a mail at once
    (grouped, at most one per 10 minutes), a daily digest, or no mail. Recorded as
    ``staff.notice_mode_set``. Raises :class:`StaffError` for an unknown choice and
    ``Staff.DoesNotExist`` for staff of another organisation."""
    if staff.organisation_id != organisation.pk:
        raise Staff.DoesNotExist
    if not isinstance(mode, str) or mode not in NoticeMode.values:
        raise StaffError("お知らせメールの受け取り方を、一覧から選んでください。")
    with transaction.atomic(durable=True):
        locked = _staff_for_change(organisation, staff.pk)
        previous = locked.notice_mode
        locked.notice_mode = mode
        locked.save(update_fields=["notice_mode", "updated_at"])
        _staff_audit(
            "staff.notice_mode_set",
            actor=locked,
            member=locked,
            now=now,
            before=previous,
            after=mode,
        )
    staff.notice_mode = mode
    return staff
