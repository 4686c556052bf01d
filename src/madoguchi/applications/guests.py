"""Applying without an account (procedures of identity assurance level 1): the guest first
proves that they receive mail at the address they give, in the browser and over the API alike.

The proof is the signed guest token of ``identity`` (``guest_email_token_make``/``_check``):
mailed as a link (the portal) or as a code to paste into an app (the API), never shown to
whoever asked for it. The mail is *requested* by an unauthenticated client, so it is counted
and limited by ``notifications.ratelimit`` (per recipient and per client address).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from django.db import transaction
from django.utils.translation import gettext

from madoguchi.catalog.models import Procedure
from madoguchi.identity.services import guest_email_token_check, guest_email_token_make
from madoguchi.notifications.services import outbox_enqueue_email

#: A mailed link must be opened within this time (the portal then keeps a session).
GUEST_LINK_MAX_AGE: Final = 60 * 60
#: A code mailed for an app proves the address for this long: the app can ask for it before
#: the resident fills in the form, and send it with the application.
GUEST_CODE_MAX_AGE: Final = 24 * 60 * 60


class GuestNotAllowed(ValueError):
    """The procedure needs an account (its ial is above 1)."""


def guest_email_confirmation_send(
    *,
    procedure: Procedure,
    email: str,
    now: datetime,
    client_address: str,
    link_for: Callable[[str], str] | None = None,
) -> None:
    """Mail ``email`` the proof that it receives mail there, for this procedure only.

    With ``link_for`` (token → absolute URL) the mail holds a link valid for
    ``GUEST_LINK_MAX_AGE``; without it, a code for an app valid for ``GUEST_CODE_MAX_AGE``.
    ``email`` must already be a valid address. Raises ``GuestNotAllowed`` (procedure needs an
    account) and ``MailRateLimited`` (too many requests: nothing queued).
    """
    if procedure.ial != 1:
        raise GuestNotAllowed("この手続はアカウントなしでは申請できません。")
    token = guest_email_token_make(email=email, procedure_id=procedure.pk)
    organisation = procedure.organisation
    if link_for is not None:
        # The portal's guest asked in their own request: the mail follows their language.
        body = gettext(
            "「%(procedure)s」をアカウントなしで申請するためのリンクです。\n"
            "%(hours)s時間以内に開いてください。\n\n%(link)s\n\n"
        ) % {
            "procedure": procedure.name,
            "hours": GUEST_LINK_MAX_AGE // 3600,
            "link": link_for(token),
        }
    else:
        body = (
            f"「{procedure.name}」をアカウントなしで申請するための確認コードです。\n"
            "申請に使うアプリに、次のコードをそのまま貼り付けてください"
            f"（{GUEST_CODE_MAX_AGE // 3600}時間有効）。\n\n{token}\n\n"
        )
    body += gettext("心当たりのない場合は、このメールを破棄してください。") + "\n"
    with transaction.atomic(durable=True):
        outbox_enqueue_email(
            to=email,
            subject=f"【{organisation.name}】" + gettext("メールアドレスの確認"),
            body=body,
            now=now,
            organisation=organisation,
            client_address=client_address,
        )


def guest_code_check(*, procedure: Procedure, code: str) -> str | None:
    """The e-mail address that a code mailed by ``guest_email_confirmation_send`` proves for
    this procedure, or ``None`` (forged, expired, for another procedure, or the procedure
    needs an account)."""
    checked = guest_email_token_check(token=code, max_age=GUEST_CODE_MAX_AGE)
    if checked is None or checked[1] != procedure.pk or procedure.ial != 1:
        return None
    return checked[0]
