"""The demo identity provider's pages and endpoints (never in production: 404 there).

The authorize page is a person's view (pick a test card, enter the demo PIN); the other
endpoints are the OP's back channel, answered in JSON (or a JWE) as OAuth 2.0 / OpenID Connect
say. Views parse, call :mod:`madoguchi.demo_idp.provider` and answer.
"""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.core.time import now
from madoguchi.demo_idp import cards, provider
from madoguchi.demo_idp.provider import GrantError


def _flavour(flavour: str) -> str:
    if settings.PRODUCTION or not settings.DEMO_IDP or flavour not in provider.FLAVOURS:
        raise Http404("demo identity provider is off")
    return flavour


def _issuer(request: HttpRequest, flavour: str) -> str:
    return request.build_absolute_uri(f"/demo-idp/{flavour}").rstrip("/")


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _oauth_error(error: GrantError) -> JsonResponse:
    code = str(error)
    status = 401 if code in {"invalid_client", "invalid_token"} else 400
    response = _json({"error": code}, status=status)
    if code == "invalid_token":
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


@require_GET
def discovery(request: HttpRequest, flavour: str) -> JsonResponse:
    flavour = _flavour(flavour)
    return _json(provider.metadata(_issuer(request, flavour), flavour))


@require_GET
def jwks(request: HttpRequest, flavour: str) -> JsonResponse:
    _flavour(flavour)
    return _json(provider.op_jwks())


def _redirect(redirect_uri: str, **params: str) -> HttpResponseRedirect:
    separator = "&" if "?" in redirect_uri else "?"
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
    return HttpResponseRedirect(redirect_uri + separator + query)


def _national_claims(card: cards.TestCard, moment: int) -> tuple[dict[str, Any], dict[str, Any]]:
    id_claims = {"sub": card.subject, "acr": "aal3", "amr": ["hwk", "pin"], "auth_time": moment}
    gender = {"1": "male", "2": "female"}.get(card.sex, "other")
    userinfo = {
        "sub": card.subject,
        "name": card.name,
        "address": {"formatted": card.address},
        "birthdate": card.birth_date,
        "gender": gender,
    }
    return id_claims, userinfo


def _business_claims(key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for found, corporate, company, person, account_type in provider.DEMO_BUSINESSES:
        if found == key:
            claims = {
                "sub": f"demo-gbizid-{key}",
                "account_type": account_type,
                "corporate_number": corporate,
                "corporate_name": company,
                "name": person,
            }
            return claims, dict(claims)
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, flavour: str) -> HttpResponse:
    flavour = _flavour(flavour)
    try:
        wanted = provider.authorization_request(request.GET, host=request.get_host())
    except GrantError as error:
        return render(request, "demo_idp/error.html", {"error": str(error)}, status=400)
    moment = now()
    transaction: dict[str, Any] | None = None
    if wanted.sign_tx:
        if flavour != "national":
            return render(request, "demo_idp/error.html", {"error": "invalid_request"}, status=400)
        try:
            transaction = provider.sign_transaction(wanted.sign_tx, now=moment)
        except GrantError:
            return render(request, "demo_idp/error.html", {"error": "invalid_request"}, status=400)
    problem = ""
    if request.method == "POST":
        if request.POST.get("cancel"):
            return _redirect(wanted.redirect_uri, error="access_denied", state=wanted.state)
        choice = request.POST.get("card", "")[:64]
        secret = request.POST.get("pin", "")[:32]
        if flavour == "gbizid":
            claims = _business_claims(choice)
            if claims is None:
                problem = "事業者を選んでください。"
            elif secret != provider.DEMO_PIN:
                problem = "暗証番号が違います。デモ用の暗証番号は 1234 です。"
            else:
                code = provider.code_issue(
                    wanted, id_claims=claims[0], userinfo=claims[1], now=moment
                )
                return _redirect(wanted.redirect_uri, code=code, state=wanted.state)
        else:
            card = cards.card_get(choice)
            expected = provider.DEMO_SIGN_PASSWORD if transaction else provider.DEMO_PIN
            if card is None:
                problem = "テスト用カードを選んでください。"
            elif secret != expected:
                problem = (
                    "署名用パスワードが違います。デモ用の署名用パスワードは DEMO1234 です。"
                    if transaction
                    else "暗証番号が違います。デモ用の暗証番号は 1234 です。"
                )
            else:
                if transaction is not None:
                    digest = base64.urlsafe_b64decode(str(transaction["digest"]) + "=")
                    provider.sign_record(
                        wanted.sign_tx,
                        signature=cards.card_sign(card, digest),
                        certificate=card.certificate_der,
                        now=moment,
                    )
                id_claims, userinfo = _national_claims(card, int(moment.timestamp()))
                code = provider.code_issue(
                    wanted, id_claims=id_claims, userinfo=userinfo, now=moment
                )
                return _redirect(wanted.redirect_uri, code=code, state=wanted.state)
    return render(
        request,
        "demo_idp/authorize.html",
        {
            "flavour": flavour,
            "cards": cards.cards_list() if flavour == "national" else [],
            "cards_dir": cards.cards_dir(),
            "businesses": provider.DEMO_BUSINESSES if flavour == "gbizid" else [],
            "transaction": transaction,
            "digest_hex": base64.urlsafe_b64decode(str(transaction["digest"]) + "=").hex()
            if transaction
            else "",
            "error": problem,
            "action": request.get_full_path(),
            "selected": request.POST.get("card", ""),
        },
        status=422 if problem else 200,
    )


@csrf_exempt
@require_POST
def token(request: HttpRequest, flavour: str) -> JsonResponse:
    flavour = _flavour(flavour)
    issuer = _issuer(request, flavour)
    try:
        answer = provider.token_issue(
            request.POST, issuer=issuer, token_endpoint=f"{issuer}/token", now=now()
        )
    except GrantError as error:
        return _oauth_error(error)
    return _json(answer)


@require_GET
def userinfo(request: HttpRequest, flavour: str) -> JsonResponse:
    _flavour(flavour)
    try:
        claims = provider.userinfo(
            provider.bearer(request.headers.get("Authorization", "")), now=now()
        )
    except GrantError:
        return _oauth_error(GrantError("invalid_token"))
    return _json(claims)


@csrf_exempt
@require_POST
def sign_request(request: HttpRequest, flavour: str) -> JsonResponse:
    if _flavour(flavour) != "national":
        raise Http404("no signing here")
    issuer = _issuer(request, flavour)
    try:
        answer = provider.sign_request(
            request.POST, issuer=issuer, endpoint=f"{issuer}/sign/request", now=now()
        )
    except GrantError as error:
        return _oauth_error(error)
    return _json(answer)


@require_GET
def sign_result(request: HttpRequest, flavour: str) -> HttpResponse:
    if _flavour(flavour) != "national":
        raise Http404("no signing here")
    try:
        body = provider.sign_result(
            provider.bearer(request.headers.get("Authorization", "")),
            request.GET.get("sign_tx", "")[:200],
            now=now(),
        )
    except GrantError as error:
        return _oauth_error(error)
    response = HttpResponse(body, content_type="application/jose")
    response["Cache-Control"] = "no-store"
    return response
