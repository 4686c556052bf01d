"""The resident's identity: 「本人確認」 (levels, the counter code) and 「パスキー」 (list, add,
rename, delete), and logging in with a passkey.

Views parse, make one domain call (:mod:`madoguchi.identity.passkeys`,
:mod:`madoguchi.identity.login`, :mod:`madoguchi.identity.proofing`) and render. The two
``…/options/`` endpoints answer JSON for the small script ``portal/passkey.js``; every other
answer is a page, so a refusal reads the same with or without the script.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.core.request import client_address
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity import passkeys, throttle
from madoguchi.identity.assurance import IdentityMethod, identity_current, identity_session_store
from madoguchi.identity.login import LoginRefused, resident_login, resident_passkey_login
from madoguchi.identity.proofing import proofing_code_issue, proofings_of
from madoguchi.identity.providers.base import identity_providers
from madoguchi.identity.providers.services import identity_link_remove
from madoguchi.identity.selectors import identity_links_of
from madoguchi.portal.access import resident_of, resident_required

MY_PAGE = "/mypage/"

#: What each level allows, in plain words (the resident's page and the README say the same).
LEVELS = (
    (
        1,
        "メールアドレスを確認したアカウント",
        "パスワードでログイン",
        "本人確認のいらない手続（粗大ごみの申込みなど）",
    ),
    (
        2,
        "窓口などで職員が本人確認書類を確認",
        "パスキー（この端末と指紋・顔・PIN）でログイン",
        "本人確認書類の確認を求める手続（団体が独自に設定したもの）",
    ),
    (
        3,
        "マイナンバーカード",
        "マイナンバーカード（カードと暗証番号）",
        "電子署名が必要な手続（児童手当、介護保険、住民票の写しの請求など）",
    ),
)


#: The level each method reaches on each side (a national login or a card speaks to both).
_IAL_OF: dict[str, int] = {
    IdentityMethod.EMAIL: 1,
    IdentityMethod.COUNTER_PROOFING: 2,
    IdentityMethod.IMAGE_PROOFING: 2,
    IdentityMethod.GBIZID: 2,
    IdentityMethod.JPKI_SIGNATURE: 3,
    IdentityMethod.NATIONAL_LOGIN: 3,
}
_AAL_OF: dict[str, int] = {
    IdentityMethod.PASSWORD: 1,
    IdentityMethod.PASSKEY: 2,
    IdentityMethod.GBIZID: 2,
    IdentityMethod.JPKI_SIGNATURE: 3,
    IdentityMethod.NATIONAL_LOGIN: 3,
}


def _how(methods: tuple[str, ...], levels: dict[str, int], level: int) -> str:
    """The labels of the methods that reached ``level`` (how the resident got there)."""
    return "、".join(
        str(IdentityMethod(m).label) for m in methods if m in levels and levels[m] == level
    )


def _rp(request: HttpRequest) -> passkeys.RelyingParty:
    return passkeys.relying_party(request_origin=f"{request.scheme}://{request.get_host()}")


def _json_refusal(refused: passkeys.PasskeyRefused) -> JsonResponse:
    return JsonResponse({"message": refused.message}, status=refused.status)


# --- 本人確認 -------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def identity(request: HttpRequest) -> HttpResponse:
    """The resident's levels, how they were reached, what they allow and how to raise them;
    POST shows a new 本人確認コード (once)."""
    user = resident_of(request)
    code = ""
    expires = None
    if request.method == "POST":
        code, expires = proofing_code_issue(user=user, now=now())
    current = identity_current(user=user, session=request.session)
    records = proofings_of(user=user)
    instant = now()
    return render(
        request,
        "portal/account/identity.html",
        {
            "current": current,
            "ial_how": _how(current.methods, _IAL_OF, current.ial) if current else "",
            "aal_how": _how(current.methods, _AAL_OF, current.aal) if current else "",
            "levels": LEVELS,
            "code": f"{code[:4]}-{code[4:]}" if code else "",
            "expires": to_tokyo(expires) if expires else None,
            "records": [
                {
                    "record": r,
                    "method": IdentityMethod(r.method).label,
                    "valid": r.revoked_at is None
                    and (r.valid_until is None or r.valid_until > instant),
                }
                for r in records
            ],
            "passkey_count": len(passkeys.passkeys_of(user=user)),
            "passkey_session": IdentityMethod.PASSKEY.value in (current.methods if current else ()),
            "links": [
                {
                    "id": link.pk,
                    "label": identity_providers[link.provider].label
                    if link.provider in identity_providers
                    else link.provider,
                    "linked_at": to_tokyo(link.linked_at),
                    "last_login_at": to_tokyo(link.last_login_at) if link.last_login_at else None,
                }
                for link in identity_links_of(user=user)
            ],
        },
    )


@never_cache
@require_POST
@resident_required
def identity_unlink(request: HttpRequest, link_id: int) -> HttpResponse:
    """Unlink a national login (card, gBizID) from the resident's own account."""
    if identity_link_remove(user=resident_of(request), link_id=link_id, now=now()):
        messages.success(
            request,
            "結び付けを解除しました。もう一度結び付けるには、下のボタンから本人確認してください。",
        )
    else:
        messages.error(request, "その結び付けは見つかりません。すでに解除されています。")
    return redirect("portal:account:identity")


# --- パスキー -----------------------------------------------------------------------------------


def _passkeys_page(
    request: HttpRequest, *, error: str = "", status: int = 200, password_error: str = ""
) -> HttpResponse:
    user = resident_of(request)
    return render(
        request,
        "portal/account/passkeys.html",
        {
            "passkeys": passkeys.passkeys_of(user=user),
            "fresh": passkeys.reauth_fresh(request.session, user_id=user.pk, now=now()),
            "error": error,
            "password_error": password_error,
            "max_name": passkeys.MAX_NAME_LENGTH,
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def passkey_list(request: HttpRequest) -> HttpResponse:
    """GET: the resident's passkeys. POST: the browser's answer to the registration
    challenge (``credential``, JSON written by the script) and the new passkey's ``name``."""
    if request.method == "GET":
        return _passkeys_page(request)
    user = resident_of(request)
    try:
        passkeys.passkey_register(
            user=user,
            session=request.session,
            rp=_rp(request),
            credential=request.POST.get("credential"),
            name=request.POST.get("name"),
            now=now(),
        )
    except passkeys.PasskeyRefused as refused:
        return _passkeys_page(request, error=refused.message, status=refused.status)
    messages.success(
        request,
        "パスキーを登録しました。次回からログイン画面の「パスキーでログイン」を使えます。",
    )
    return redirect("portal:account:passkeys")


@never_cache
@require_POST
@resident_required
def passkey_reauth(request: HttpRequest) -> HttpResponse:
    """The password again, before a passkey may be added (the login's limits apply)."""
    user = resident_of(request)
    try:
        resident_login(
            email=user.email,
            password=request.POST.get("password"),
            address=client_address(request),
            device_token=request.COOKIES.get(throttle.DEVICE_COOKIE),
            now=now(),
        )
    except LoginRefused as refused:
        message = (
            refused.message
            if refused.status == 429
            else "パスワードが違います。もう一度入力してください。"
        )
        return _passkeys_page(request, password_error=message, status=refused.status)
    passkeys.reauth_mark(request.session, user_id=user.pk, now=now())
    return redirect("portal:account:passkeys")


@never_cache
@require_POST
@resident_required
def passkey_options(request: HttpRequest) -> HttpResponse:
    """JSON options for ``navigator.credentials.create`` (for the script)."""
    user = resident_of(request)
    try:
        options = passkeys.passkey_registration_options(
            user=user, session=request.session, rp=_rp(request), now=now()
        )
    except passkeys.PasskeyRefused as refused:
        return _json_refusal(refused)
    return HttpResponse(options, content_type="application/json")


@never_cache
@require_POST
@resident_required
def passkey_rename(request: HttpRequest, passkey_id: int) -> HttpResponse:
    user = resident_of(request)
    try:
        changed = passkeys.passkey_rename(
            user=user, passkey_id=passkey_id, name=request.POST.get("name"), now=now()
        )
    except passkeys.PasskeyRefused as refused:
        return _passkeys_page(request, error=refused.message, status=422)
    if not changed:
        return _passkeys_page(
            request, error="そのパスキーは見つかりません。一覧から選んでください。", status=404
        )
    messages.success(request, "パスキーの名前を変更しました。")
    return redirect("portal:account:passkeys")


@never_cache
@require_POST
@resident_required
def passkey_delete(request: HttpRequest, passkey_id: int) -> HttpResponse:
    user = resident_of(request)
    if not passkeys.passkey_delete(user=user, passkey_id=passkey_id, now=now()):
        return _passkeys_page(
            request, error="そのパスキーは見つかりません。一覧から選んでください。", status=404
        )
    messages.success(
        request,
        "パスキーを削除しました。端末に残っているパスキーは、端末の設定から削除してください。",
    )
    return redirect("portal:account:passkeys")


# --- Logging in with a passkey ---------------------------------------------------------------


@never_cache
@require_POST
def login_options(request: HttpRequest) -> HttpResponse:
    """JSON options for ``navigator.credentials.get`` (for the script); no account named."""
    options = passkeys.passkey_login_options(session=request.session, rp=_rp(request), now=now())
    return HttpResponse(options, content_type="application/json")


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return MY_PAGE


@never_cache
@require_POST
def login_passkey(request: HttpRequest) -> HttpResponse:
    """The browser's answer to the login challenge: log in at 当人認証 level 2, or show the
    login page with the reason."""
    try:
        result = resident_passkey_login(
            credential=request.POST.get("credential"),
            session=request.session,
            rp=_rp(request),
            address=client_address(request),
            device_token=request.COOKIES.get(throttle.DEVICE_COOKIE),
            now=now(),
        )
    except LoginRefused as refused:
        from madoguchi.portal.forms_account import ResidentLoginForm

        context: dict[str, Any] = {
            "form": ResidentLoginForm(request),
            "passkey_error": refused.message,
            "next": request.POST.get("next", ""),
        }
        return render(request, "portal/account/login.html", context, status=refused.status)
    user = result.user
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    identity_session_store(request.session, result.identity, user_id=user.pk)
    passkeys.reauth_mark(request.session, user_id=user.pk, now=now())
    response = HttpResponseRedirect(_next(request))
    response.set_cookie(
        throttle.DEVICE_COOKIE,
        throttle.device_token_make(
            account=user.email, previous=request.COOKIES.get(throttle.DEVICE_COOKIE)
        ),
        max_age=throttle.DEVICE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response
