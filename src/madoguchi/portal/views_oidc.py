"""National login (デジタル認証アプリ), gBizID login, account linking, and signing through the
national app: the portal's side of :mod:`madoguchi.identity.providers.services`.

Views parse, make one call to those services and render; the services hold the rules,
the session state and the audit records.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.applications.services import (
    SignatureInvalid,
    ValidationFailed,
    application_canonical,
    application_signature_check,
)
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.testers import procedure_for_applicant
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.request import client_address
from madoguchi.core.time import now
from madoguchi.identity.assurance import LEVEL_NAMES, identity_session_store
from madoguchi.identity.models import User
from madoguchi.identity.providers.base import identity_providers
from madoguchi.identity.providers.services import (
    OidcRefused,
    national_sign_finish,
    national_sign_start,
    oidc_link_pending,
    oidc_login_finish,
    oidc_login_start,
    oidc_unlinked,
)
from madoguchi.identity.services import is_resident
from madoguchi.portal import apply_state
from madoguchi.portal.access import resident_of, resident_required
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

MY_PAGE = "/mypage/"


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


def _provider(provider: str) -> str:
    if provider not in identity_providers:
        raise Http404("その認証サービスはありません。")
    return provider


def _safe_next(request: HttpRequest, value: object) -> str:
    if isinstance(value, str) and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def _refused(request: HttpRequest, refused: OidcRefused, *, status: int = 400) -> HttpResponse:
    return render(
        request,
        "portal/identity/refused.html",
        {"message": refused.message, "code": refused.code},
        status=503 if refused.code == "unavailable" else status,
    )


def _params(request: HttpRequest) -> dict[str, str]:
    return {key: str(request.GET.get(key, ""))[:2048] for key in list(request.GET)[:20]}


def _account(request: HttpRequest) -> User | None:
    """The logged-in account (any kind: the services refuse staff), or None."""
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


@never_cache
@require_POST
def oidc_login(request: HttpRequest, provider: str) -> HttpResponse:
    """「マイナンバーカードでログイン」「gBizIDでログイン」 (or, logged in, 「本人確認する」)."""
    provider = _provider(provider)
    user = _account(request)
    if user is not None and user.email_verified_at is None and is_resident(user):
        return render(request, "portal/account/unverified.html", status=403)
    try:
        url = oidc_login_start(
            session=request.session,
            provider=provider,
            base_url=_base_url(request),
            redirect_uri=request.build_absolute_uri(
                reverse("portal:account:oidc_callback", args=[provider])
            ),
            user=user,
            next_url=_safe_next(request, request.POST.get("next")),
            now=now(),
            address=client_address(request),
        )
    except OidcRefused as refused:
        return _refused(request, refused, status=422)
    return HttpResponseRedirect(url)


@never_cache
@require_GET
def oidc_callback(request: HttpRequest, provider: str) -> HttpResponse:
    _provider(provider)
    try:
        outcome = oidc_login_finish(
            session=request.session,
            params=_params(request),
            user=_account(request),
            address=client_address(request),
            base_url=_base_url(request),
            now=now(),
        )
    except OidcRefused as refused:
        return _refused(request, refused)
    label = identity_providers[outcome.provider].label
    level = LEVEL_NAMES[outcome.identity.ial]
    if outcome.kind == "needs_account":
        return render(
            request,
            "portal/identity/needs_account.html",
            {"label": label, "identity": outcome.identity},
        )
    assert outcome.user is not None
    if outcome.kind == "logged_in":
        login(request, outcome.user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"{label}でログインしました（本人確認{level}）。")
    else:
        messages.success(
            request,
            f"{label}で本人確認しました（本人確認{level}）。この本人確認をこのアカウントに"
            f"結び付けたので、次回から{label}だけでもログインできます。"
            "結び付けはマイページの「本人確認」で確認できます。",
        )
    identity_session_store(request.session, outcome.identity, user_id=outcome.user.pk)
    return redirect(outcome.next_url or MY_PAGE)


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def oidc_link(request: HttpRequest) -> HttpResponse:
    """After logging in (or signing up and logging in): link the national login waiting in
    this session to this account."""
    user = resident_of(request)
    if request.method == "POST":
        try:
            identity = oidc_link_pending(session=request.session, user=user, now=now())
        except OidcRefused as refused:
            return _refused(request, refused)
        identity_session_store(request.session, identity, user_id=user.pk)
        messages.success(
            request,
            "アカウントに結び付けました。次回からはマイナンバーカードだけでログインできます。",
        )
        return redirect(MY_PAGE)
    waiting = oidc_unlinked(request.session, now=now())
    return render(
        request,
        "portal/identity/link.html",
        {
            "waiting": waiting,
            "label": identity_providers[waiting[0]].label if waiting else "",
        },
    )


def _procedure(request: HttpRequest, code: str, procedure_id: int) -> Procedure:
    """The published procedure, or (運用テスト) the 準備中 one the user is a tester of."""
    try:
        org = organisation_get(code=code)
        return procedure_for_applicant(
            organisation=org, procedure_id=procedure_id, user=request.user
        )
    except (InvalidLgCode, Organisation.DoesNotExist, Procedure.DoesNotExist):
        raise Http404("その手続はありません。") from None


def _confirm_url(procedure: Procedure) -> str:
    return reverse("portal:apply:confirm", args=[procedure.organisation.lg_code, procedure.pk])


@never_cache
@require_POST
@resident_required
def oidc_sign(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """Sign this draft's canonical bytes with the national app: off to the app."""
    procedure = _procedure(request, code, procedure_id)
    user = resident_of(request)
    copy = apply_state.load(request, procedure)
    try:
        content = application_canonical(
            organisation=procedure.organisation,
            procedure=procedure,
            applicant=user,
            answers=copy.answers,
            now=now(),
        )
    except ValidationFailed:
        messages.error(request, "入力内容を確認してから署名してください。")
        return redirect(_confirm_url(procedure))
    try:
        url = national_sign_start(
            session=request.session,
            digest=hashlib.sha256(content).digest(),
            procedure_id=procedure.pk,
            user=user,
            base_url=_base_url(request),
            redirect_uri=request.build_absolute_uri(reverse("portal:account:oidc_sign_callback")),
            now=now(),
        )
    except OidcRefused as refused:
        messages.error(request, refused.message)
        return redirect(_confirm_url(procedure))
    return HttpResponseRedirect(url)


@never_cache
@require_GET
@resident_required
def oidc_sign_callback(request: HttpRequest) -> HttpResponse:
    try:
        signed = national_sign_finish(
            session=request.session,
            params=_params(request),
            user=resident_of(request),
            base_url=_base_url(request),
            now=now(),
        )
    except OidcRefused as refused:
        return _refused(request, refused)
    found = Procedure.objects.select_related("organisation").filter(pk=signed.procedure_id).first()
    if found is None:
        return redirect(MY_PAGE)
    # The same checks as an uploaded signature file (path, revocation, 基本4情報), then kept
    # for exactly these answers until they are sent.
    user = resident_of(request)
    try:
        check = application_signature_check(
            organisation=found.organisation,
            procedure=found,
            applicant=user,
            answers=apply_state.load(request, found).answers,
            signature=signed.cms,
            now=now(),
        )
    except ValidationFailed:
        messages.error(request, "入力内容を確認してから、もう一度署名してください。")
        return redirect(_confirm_url(found))
    except SignatureInvalid as refused:
        messages.error(request, str(refused))
        return redirect(_confirm_url(found) + "#identity")
    apply_state.signature_store(
        request,
        found,
        content_sha256=check.content_sha256,
        cms=signed.cms,
        via="national_app",
        signer=check.verification.attributes.name,
        mismatches=[m.__dict__ for m in check.mismatches],
    )
    messages.success(
        request,
        "デジタル認証アプリで申請書に電子署名しました。内容を確認して送信してください。",
    )
    return redirect(_confirm_url(found) + "#identity")
