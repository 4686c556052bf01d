"""Where a mail about an application sends its applicant.

An applicant with an account reads everything on my page (``/mypage/<receipt>/``, behind the
login). A guest has no account and no my page: their mail carries a signed link to a status
page of that one application (``/status/<token>/``). The token is signed with the secret key
and a purpose of its own, names the application by id and receipt number, and cannot be
forged or turned into a link to another application; whoever holds the mail can read the
status, which is what the mail already told them.

Links start from ``settings.PORTAL_URL``: mail leaves from the outbox, often for an action
taken in the console (which may run on another host), so no request is at hand.
"""

from __future__ import annotations

from typing import Final

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from madoguchi.applications.models import Application
from madoguchi.core.roles import reverse_any

_SALT: Final = "madoguchi.applications.guest-status"
#: Subjects of the notices sent for staff actions (``workflow._notify_applicant`` translates
#: them into the applicant's language): marked here for the catalogue.
NOTICE_SUBJECTS: Final = (
    gettext_noop("お知らせがあります"),
    gettext_noop("申請の補正をお願いします"),
    gettext_noop("申請を取り下げました"),
    gettext_noop("申請の決定をお知らせします"),
)
#: A token longer than this is refused before it is checked.
MAX_TOKEN_LENGTH: Final = 300


def guest_status_token_make(application: Application) -> str:
    return signing.dumps([application.pk, application.receipt_number], salt=_SALT, compress=True)


def guest_status_token_check(token: str) -> tuple[int, str] | None:
    """The (application id, receipt number) a status token names, or None (forged, broken,
    overlong). Only guests' applications are reached this way: the caller checks that."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        value = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        return None
    return value[0], value[1]


def applicant_status_url(application: Application) -> str:
    """The absolute address where the applicant follows this application: my page for an
    account holder, the signed status page for a guest."""
    base = settings.PORTAL_URL.rstrip("/")
    if application.applicant_id:
        return base + reverse_any("portal:apply:mypage_detail", args=[application.receipt_number])
    token = guest_status_token_make(application)
    return base + reverse_any("portal:apply:guest_status", args=[token])


def my_page_url() -> str:
    """The absolute address of my page (drafts and applications of an account holder)."""
    return settings.PORTAL_URL.rstrip("/") + reverse_any("portal:apply:mypage")


def applicant_status_sentence(application: Application) -> str:
    """The mail's sentence that says where to look, with its link (no mention of my page to
    a guest, who has none). In the active language."""
    url = applicant_status_url(application)
    if application.applicant_id:
        return (
            _("申請の状況と書類は、マイページで確認できます（ログインが必要です）。") + f"\n{url}\n"
        )
    return (
        _(
            "申請の状況と書類は、次のページで確認できます。"
            "このリンクを知っている人は誰でも状況を見られるため、他の人に教えないでください。"
        )
        + f"\n{url}\n"
    )


def guest_application_from_token(token: str) -> Application | None:
    """The guest application a status token names, or None: forged or broken tokens, and
    applications sent from an account (those are read on my page, behind the login)."""
    checked = guest_status_token_check(token)
    if checked is None:
        return None
    return (
        Application.objects.select_related("organisation", "procedure")
        .filter(pk=checked[0], receipt_number=checked[1], applicant__isnull=True)
        .first()
    )
