"""Resident accounts, orchestrated: identity's services with their audit events and mail.

identity sits below audit and notifications in the layers, so its services only change
accounts; this module wraps each in one transaction with its audit event and its outbox mail
(sent only if the change commits). Audit details carry ids and field names, never addresses,
names or other personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.contrib.auth.forms import PasswordResetForm
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from madoguchi.applications.models import Application
from madoguchi.applications.selectors import drafts_of_applicant
from madoguchi.applications.services import draft_delete
from madoguchi.audit.services import audit_record
from madoguchi.core.text import strip_invisible
from madoguchi.core.time import now
from madoguchi.identity.models import AccessToken, ResidentProfile, Staff, User
from madoguchi.identity.services import (
    EmailAlreadyRegistered,
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
_FOOTER: Final = (
    "\n\n――\n"
    f"{SITE}\n"
    "このメールは送信専用です。返信はできません。\n"
    "心当たりのない場合は、このメールを破棄してください。\n"
)


#: Personal API tokens a resident may hold at once.
MAX_TOKENS: Final = 10


def _audit(action: str, user: User | None, user_id: int, **detail: Any) -> None:
    audit_record(
        action=action,
        now=now(),
        actor=user,
        actor_label=RESIDENT,
        target_type="user",
        target_id=user_id,
        detail=detail,
    )


def _link(request: HttpRequest, name: str, *args: str) -> str:
    return request.build_absolute_uri(reverse(f"portal:account:{name}", args=args))


def _verification_mail(request: HttpRequest, user: User) -> None:
    link = _link(request, "verify", resident_verification_token_make(user=user))
    outbox_enqueue_email(
        to=user.email,
        subject=f"【{SITE}】メールアドレスの確認",
        body=(
            "アカウントの登録を受け付けました。\n"
            "次のリンクを開き、「メールアドレスを確認する」を押して登録を完了してください。\n"
            "リンクの有効期限は3日間です。\n\n"
            f"{link}" + _FOOTER
        ),
        now=now(),
    )


def _already_registered_mail(request: HttpRequest, user: User) -> None:
    outbox_enqueue_email(
        to=user.email,
        subject=f"【{SITE}】アカウント登録の申込みがありました",
        body=(
            "このメールアドレスで新しくアカウントを作る申込みがありましたが、"
            "このアドレスのアカウントはすでにあります。新しいアカウントは作っていません。\n\n"
            "ご自身の申込みでしたら、次のページからログインしてください。\n"
            f"{_link(request, 'login')}\n\n"
            "パスワードが分からない場合は、次のページで再設定できます。\n"
            f"{_link(request, 'password_reset')}\n\n"
            "お心当たりのない場合は、このメールを破棄してください。"
            "アカウントに変更はありません。" + _FOOTER
        ),
        now=now(),
    )


def account_signup(*, request: HttpRequest, email: str, password: str) -> None:
    """Sign up ``email``, or tell its owner that it already has an account.

    Either way one mail goes to the address and nothing is returned, so a view cannot
    accidentally show the difference. A staff address gets nothing at all: no resident
    account can be made with it, and staff are not to be reached through the resident portal.
    Raises Django's ``ValidationError`` for a weak password (checked before the address is
    looked up, so the answer is the same for a taken address).
    """
    with transaction.atomic():
        try:
            user = resident_signup(email=email, password=password, now=now())
        except EmailAlreadyRegistered as taken:
            if not Staff.objects.filter(user_id=taken.user.pk).exists() and taken.user.is_active:
                _already_registered_mail(request, taken.user)
            return
        _audit("resident.signed_up", user, user.pk)
        _verification_mail(request, user)


def account_verification_resend(*, request: HttpRequest, email: str) -> None:
    """Mail a fresh confirmation link if ``email`` is an unverified resident account.

    Answers nothing, whatever the address: the page after it is the same for all.
    """
    address = email.strip().lower()
    user = User.objects.filter(email=address, is_active=True, email_verified_at=None).first()
    if user is None or Staff.objects.filter(user_id=user.pk).exists():
        return
    with transaction.atomic():
        _verification_mail(request, user)


def account_verify(*, token: str) -> User:
    """Verify the address in ``token``; raises identity's ``InvalidToken``."""
    with transaction.atomic():
        user = resident_verify_email(token=token, now=now())
        _audit("resident.email_verified", user, user.pk)
    return user


def account_password_reset_completed(*, user: User) -> None:
    with transaction.atomic():
        resident_password_reset_done(user=user, now=now())
        _audit("resident.password_reset", user, user.pk)


def account_profile_update(*, user: User, data: Mapping[str, Any]) -> ResidentProfile:
    with transaction.atomic():
        profile, changed = resident_profile_update(user=user, data=data, now=now())
        if changed:
            _audit("resident.profile_updated", user, user.pk, fields=changed)
    return profile


def has_retained_data(user: User) -> bool:
    """Whether any application of ``user`` is still kept by an organisation."""
    return Application.objects.filter(applicant=user).exists()


def account_delete(*, user: User) -> bool:
    """Close the resident's account; True when nothing of it is left.

    Drafts (never sent, so kept by no organisation) go in every case; applications stay with
    their organisations until their retention ends, pointing to a locked account without a
    profile. A notice goes to the old address, queued before the address is scrambled.
    """
    user_id = user.pk
    address = user.email
    with transaction.atomic():
        retained = has_retained_data(user)
        for draft in drafts_of_applicant(applicant=user):
            draft_delete(applicant=user, procedure=draft.procedure)
        outbox_enqueue_email(
            to=address,
            subject=f"【{SITE}】アカウントを削除しました",
            body=(
                "ご依頼によりアカウントを削除しました。登録情報と下書きは消去しました。\n"
                + (
                    "送信済みの申請は、申請先の各団体が定める保存期間が過ぎるまで保存されます。"
                    "申請についてのお問い合わせは、各団体にしてください。\n"
                    if retained
                    else ""
                )
                + _FOOTER
            ),
            now=now(),
        )
        deleted = resident_delete(user=user, now=now(), has_retained_data=retained)
        _audit("resident.deleted", None, user_id, retained=not deleted)
    return deleted


class ResidentPasswordResetForm(PasswordResetForm):
    """Django's reset form, mailing through our outbox; staff accounts are left out.

    The answer to the person asking is the same whether or not a mail was queued.
    """

    _request: HttpRequest | None = None

    def get_users(self, email: str) -> Any:
        staff_ids = set(Staff.objects.values_list("user_id", flat=True))
        return (user for user in super().get_users(email) if user.pk not in staff_ids)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Django's view passes the request here but not on to send_mail, where the link is made.
        self._request = kwargs.get("request")
        super().save(*args, **kwargs)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        assert self._request is not None  # save() is always called with the request
        link = _link(self._request, "password_reset_confirm", context["uid"], context["token"])
        outbox_enqueue_email(
            to=to_email,
            subject=f"【{SITE}】パスワードの再設定",
            body=(
                "パスワードの再設定の申込みを受け付けました。\n"
                "次のリンクを開いて、新しいパスワードを設定してください。"
                "リンクは一度だけ、3日以内に使えます。\n\n"
                f"{link}\n\n"
                "お心当たりのない場合は、このメールを破棄してください。"
                "パスワードは変わりません。" + _FOOTER
            ),
            now=now(),
        )


def account_token_create(*, user: User, name: str) -> tuple[AccessToken, str]:
    """Issue a personal API token (scope ``applications``) and record it; the secret is
    returned once and only its hash is kept. Raises ``ValueError`` (Japanese) for a bad name."""
    name = strip_invisible(name or "").strip()
    if len(name) > 100:
        raise ValueError("名前は100文字以内で入力してください。")
    if AccessToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS:
        raise ValueError(
            f"使えるトークンは{MAX_TOKENS}個までです。使っていないものを失効させてください。"
        )
    with transaction.atomic():
        token, raw = access_token_create(
            user=user, name=name, scopes=[SCOPE_APPLICATIONS], now=now()
        )
        _audit("resident.token_created", user, user.pk, token=token.pk)
    return token, raw


def account_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of the resident's own tokens; another person's id changes nothing (False)."""
    token = AccessToken.objects.filter(user=user, organisation__isnull=True, pk=token_id).first()
    if token is None:
        return False
    with transaction.atomic():
        access_token_revoke(token=token, now=now())
        _audit("resident.token_revoked", user, user.pk, token=token.pk)
    return True


def account_tokens(user: User) -> list[AccessToken]:
    return list(
        AccessToken.objects.filter(user=user, organisation__isnull=True).order_by("-created_at")
    )
