"""Resident accounts, one public service per use case: sign-up, verification, password reset,
profile, deletion and personal API tokens.

Each service owns its transaction (``durable=True``: it is never a nested step of another),
records its audit event and queues its mail in the same transaction (the mail leaves only if
the change commits). Links in mail are built from ``base_url`` (the site's address, given by
the view), never from a request object. ``client_address`` (the requester's IP address) is
passed on for the mail limits of ``notifications``. Audit details carry ids and field names,
never addresses, names or other personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from madoguchi.audit.services import audit_record
from madoguchi.core.roles import reverse_any
from madoguchi.core.text import strip_invisible
from madoguchi.identity.events import resident_closing
from madoguchi.identity.models import AccessToken, ResidentProfile, Staff, User
from madoguchi.identity.services import (
    EmailAlreadyRegistered,
    is_resident,
    resident_delete,
    resident_password_reset_done,
    resident_profile_update,
    resident_signup,
    resident_verification_token_make,
    resident_verify_email,
)
from madoguchi.identity.tokens import (
    SCOPE_APPLICATIONS,
    access_token_create,
    access_token_revoke,
)
from madoguchi.notifications.services import outbox_enqueue_email

SITE: Final = "窓口 電子申請"
RESIDENT: Final = "住民"


def _footer() -> str:
    return (
        "\n\n――\n"
        f"{SITE}\n"
        + _("このメールは送信専用です。返信はできません。")
        + "\n"
        + _("心当たりのない場合は、このメールを破棄してください。")
        + "\n"
    )


#: Personal API tokens a resident may hold at once.
MAX_TOKENS: Final = 10


def _audit(action: str, user: User | None, user_id: int, now: datetime, **detail: Any) -> None:
    audit_record(
        action=action,
        now=now,
        actor=user,
        actor_label=RESIDENT,
        target_type="user",
        target_id=user_id,
        detail=detail,
    )


def _link(base_url: str, name: str, *args: str, next_path: str = "") -> str:
    link = base_url.rstrip("/") + reverse_any(f"portal:account:{name}", args=args)
    next_path = _local_path(next_path)
    return f"{link}?{urlencode({'next': next_path})}" if next_path else link


def _local_path(value: str) -> str:
    """``value`` if it is a plain path on this site (the view has checked it against the
    host; this is the service's own guard, so no mail can carry a link elsewhere), else ""."""
    if (
        not value
        or len(value) > 1000
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
    ):
        return ""
    return value


def _mail(
    *,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    client_address: str | None,
    requested: bool = True,
) -> None:
    # The one place where account mail is queued. Mail that a client's request makes us send
    # (sign-up, resend, reset) always counts against the mail limits: an unknown client
    # address ("" when REMOTE_ADDR was not an address) is one client, never a way around them.
    outbox_enqueue_email(
        to=to,
        subject=f"【{SITE}】{subject}",
        body=body + _footer(),
        now=now,
        client_address=(client_address or "") if requested else None,
    )


def _verification_mail(
    user: User, *, base_url: str, now: datetime, client_address: str | None, next_path: str = ""
) -> None:
    link = _link(
        base_url, "verify", resident_verification_token_make(user=user), next_path=next_path
    )
    _mail(
        to=user.email,
        subject=_("メールアドレスの確認"),
        body=_(
            "アカウントの登録を受け付けました。\n"
            "次のリンクを開き、「メールアドレスを確認する」を押して登録を完了してください。\n"
            "登録が済むと、ログインの後で申請していた手続に戻ります。\n"
            "リンクの有効期限は3日間です。\n\n"
            "%(link)s"
        )
        % {"link": link},
        now=now,
        client_address=client_address,
    )


def account_signup(
    *,
    email: str,
    password: str,
    base_url: str,
    now: datetime,
    client_address: str | None = None,
    next_path: str = "",
) -> None:
    """Sign up ``email``, or tell its owner that it already has an account.

    ``next_path`` (a path on this site, e.g. the procedure the resident started from) rides
    along in the mail's links, so verification and login lead back to it; anything but a
    plain local path is dropped.

    Either way one mail goes to the address and nothing is returned, so a view cannot
    accidentally show the difference. A staff address gets nothing at all: no resident
    account can be made with it, and staff are not to be reached through the resident portal.
    Raises Django's ``ValidationError`` for a weak password (checked before the address is
    looked up, so the answer is the same for a taken address).
    """
    with transaction.atomic(durable=True):
        try:
            user = resident_signup(email=email, password=password, now=now)
        except EmailAlreadyRegistered as taken:
            owner = taken.user
            if not Staff.objects.filter(user_id=owner.pk).exists() and owner.is_active:
                _mail(
                    to=owner.email,
                    subject=_("アカウント登録の申込みがありました"),
                    body=_(
                        "このメールアドレスで新しくアカウントを作る申込みがありましたが、"
                        "このアドレスのアカウントはすでにあります。"
                        "新しいアカウントは作っていません。\n\n"
                        "ご自身の申込みでしたら、次のページからログインしてください。\n"
                        "%(login)s\n\n"
                        "パスワードが分からない場合は、次のページで再設定できます。\n"
                        "%(reset)s\n\n"
                        "お心当たりのない場合は、このメールを破棄してください。"
                        "アカウントに変更はありません。"
                    )
                    % {
                        "login": _link(base_url, "login", next_path=next_path),
                        "reset": _link(base_url, "password_reset"),
                    },
                    now=now,
                    client_address=client_address,
                )
            return
        _audit("resident.signed_up", user, user.pk, now)
        _verification_mail(
            user,
            base_url=base_url,
            now=now,
            client_address=client_address,
            next_path=next_path,
        )


def account_verification_resend(
    *,
    email: str,
    base_url: str,
    now: datetime,
    client_address: str | None = None,
    next_path: str = "",
) -> None:
    """Mail a fresh confirmation link if ``email`` is an unverified resident account
    (carrying ``next_path`` as :func:`account_signup` does).

    Answers nothing, whatever the address: the page after it is the same for all.
    """
    address = email.strip().lower()
    with transaction.atomic(durable=True):
        user = User.objects.filter(email=address, is_active=True, email_verified_at=None).first()
        if user is None or Staff.objects.filter(user_id=user.pk).exists():
            return
        _verification_mail(
            user,
            base_url=base_url,
            now=now,
            client_address=client_address,
            next_path=next_path,
        )


def account_verify(*, token: str, now: datetime) -> User:
    """Verify the address in ``token``; raises identity's ``InvalidToken``."""
    with transaction.atomic(durable=True):
        user = resident_verify_email(token=token, now=now)
        _audit("resident.email_verified", user, user.pk, now)
    return user


def _reset_candidates(email: str) -> list[User]:
    # As Django's PasswordResetForm: active accounts with a usable password; never staff.
    found = User.objects.filter(email__iexact=email.strip(), is_active=True)
    return [user for user in found if user.has_usable_password() and is_resident(user)]


def account_password_reset_request(
    *, email: str, base_url: str, now: datetime, client_address: str | None = None
) -> None:
    """Mail a one-time password reset link to ``email`` if it is a resident's account.

    Answers nothing, whatever the address (staff addresses and unknown ones get no mail),
    so the page after it is the same for all. The link is Django's reset token (one use,
    ``PASSWORD_RESET_TIMEOUT``).
    """
    with transaction.atomic(durable=True):
        for user in _reset_candidates(email):
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            token = default_token_generator.make_token(user)
            _mail(
                to=user.email,
                subject=_("パスワードの再設定"),
                body=_(
                    "パスワードの再設定の申込みを受け付けました。\n"
                    "次のリンクを開いて、新しいパスワードを設定してください。"
                    "リンクは一度だけ、3日以内に使えます。\n\n"
                    "%(link)s\n\n"
                    "お心当たりのない場合は、このメールを破棄してください。"
                    "パスワードは変わりません。"
                )
                % {"link": _link(base_url, "password_reset_confirm", uid, token)},
                now=now,
                client_address=client_address,
            )


def account_password_reset_complete(*, user: User, password: str, now: datetime) -> User:
    """Set the new password of a reset (already checked by the validators and the link), mark
    the address verified (the link proved the mailbox) and record it, together."""
    if Staff.objects.filter(user_id=user.pk).exists():
        raise ValueError("職員のアカウントはこの方法では再設定できません。")
    with transaction.atomic(durable=True):
        user.set_password(password)
        user.save(update_fields=["password", "updated_at"])
        user = resident_password_reset_done(user=user, now=now)
        _audit("resident.password_reset", user, user.pk, now)
    return user


def account_profile_update(
    *, user: User, data: Mapping[str, Any], now: datetime
) -> ResidentProfile:
    """Store the resident's parsed profile; records the names of the fields that changed
    (never values). Raises ``ValueError`` as ``resident_profile_update``."""
    with transaction.atomic(durable=True):
        profile, changed = resident_profile_update(user=user, data=data, now=now)
        if changed:
            _audit("resident.profile_updated", user, user.pk, now, fields=changed)
    return profile


def account_delete(*, user: User, now: datetime) -> bool:
    """Close the resident's account; True when nothing of it is left.

    Drafts (never sent, so kept by no organisation) go in every case (``resident_closing``);
    applications stay with their organisations until their retention ends, pointing to a
    locked account without a profile. A notice goes to the old address. Raises
    ``ValueError`` for a staff account.
    """
    user_id = user.pk
    address = user.email
    with transaction.atomic(durable=True):
        resident_closing.send(sender=User, user_id=user_id)
        deleted = resident_delete(user=user, now=now)
        _mail(
            to=address,
            subject="アカウントを削除しました",
            body=(
                "ご依頼によりアカウントを削除しました。登録情報と下書きは消去しました。\n"
                + (
                    ""
                    if deleted
                    else "送信済みの申請は、申請先の各団体が定める保存期間が過ぎるまで"
                    "保存されます。申請についてのお問い合わせは、各団体にしてください。\n"
                )
            ),
            now=now,
            client_address=None,
            requested=False,  # the notice of a real act: never refused (a 500 would undo it)
        )
        _audit("resident.deleted", None, user_id, now, retained=not deleted)
    return deleted


def account_tokens(*, user: User) -> list[AccessToken]:
    """The resident's personal API tokens, newest first (revoked ones included)."""
    return list(
        AccessToken.objects.filter(user=user, organisation__isnull=True).order_by("-created_at")
    )


def account_token_create(*, user: User, name: str, now: datetime) -> tuple[AccessToken, str]:
    """Issue a personal API token (scope ``applications``) and record it; the secret is
    returned once and only its hash is kept. Raises ``ValueError`` (Japanese) for a bad name
    or when :data:`MAX_TOKENS` are in use."""
    name = strip_invisible(name or "").strip()
    if len(name) > 100:
        raise ValueError("名前は100文字以内で入力してください。")
    with transaction.atomic(durable=True):
        # The user's row is the lock: two requests at once cannot pass the limit together.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if AccessToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS:
            raise ValueError(
                f"使えるトークンは{MAX_TOKENS}個までです。使っていないものを失効させてください。"
            )
        token, raw = access_token_create(user=user, name=name, scopes=[SCOPE_APPLICATIONS], now=now)
        _audit("resident.token_created", user, user.pk, now, token=token.pk)
    return token, raw


def account_token_revoke(*, user: User, token_id: int, now: datetime) -> bool:
    """Revoke one of the resident's own tokens; another person's id changes nothing (False)."""
    with transaction.atomic(durable=True):
        token = AccessToken.objects.filter(
            user=user, organisation__isnull=True, pk=token_id
        ).first()
        if token is None:
            return False
        access_token_revoke(token=token, now=now)
        _audit("resident.token_revoked", user, user.pk, now, token=token.pk)
    return True
