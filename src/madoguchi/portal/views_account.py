"""Resident accounts: sign-up, e-mail verification, login, password reset, profile, deletion.

Views parse and render; the changes, their audit events and their mail are in
:mod:`madoguchi.portal.accounts`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.japanese import wareki
from madoguchi.identity.models import ResidentProfile, Staff, User
from madoguchi.identity.services import (
    PROFILE_FIELDS,
    InvalidToken,
    resident_verification_token_check,
)
from madoguchi.portal import accounts
from madoguchi.portal.access import resident_required
from madoguchi.portal.forms_account import (
    DeleteForm,
    EmailForm,
    ProfileForm,
    ResidentLoginForm,
    SignupForm,
)

#: Where a resident lands after logging in when no (safe) ``next`` was given.
MY_PAGE = "/mypage/"


def _resident(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # resident_required ran first
    return user


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.account_signup(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as error:
            form.add_error("password", error)
        else:
            # The same page whether the address was new or taken (PRG, nothing in the URL).
            return redirect("portal:account:signup_sent")
    return render(
        request,
        "portal/account/signup.html",
        {"form": form},
        status=422 if form.errors else 200,
    )


@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/account/signup_sent.html")


@never_cache
@require_http_methods(["GET", "POST"])
def verification_resend(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        accounts.account_verification_resend(request=request, email=form.cleaned_data["email"])
        return redirect("portal:account:signup_sent")
    return render(
        request,
        "portal/account/resend.html",
        {"form": form},
        status=422 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button: mail scanners open links, and must not spend the token."""
    try:
        if request.method == "POST":
            accounts.account_verify(token=token)
            messages.success(
                request, "メールアドレスを確認しました。登録したパスワードでログインしてください。"
            )
            return redirect("portal:account:login")
        resident_verification_token_check(token=token)
    except InvalidToken:
        return render(request, "portal/account/verify_invalid.html", status=400)
    return render(request, "portal/account/verify.html")


class LoginView(auth_views.LoginView):
    """Resident login: verified residents only; the session key is rotated by ``login``;
    ``next`` is followed only to this site (Django's own check)."""

    template_name = "portal/account/login.html"
    authentication_form = ResidentLoginForm
    next_page = MY_PAGE

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django's): a link or an image cannot log anyone out."""

    next_page = "portal:index"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "ログアウトしました。")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Same answer for every address; the mail goes through the outbox."""

    template_name = "portal/account/password_reset_form.html"
    form_class = accounts.ResidentPasswordResetForm
    success_url = reverse_lazy("portal:account:password_reset_done")

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/account/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/account/password_reset_confirm.html"
    success_url = reverse_lazy("portal:account:password_reset_complete")
    post_reset_login = False

    def get_user(self, uidb64: str) -> Any:
        # Overlong ids are refused before decoding; staff reset nothing through this page.
        if len(uidb64) > 40:
            return None
        user = super().get_user(uidb64)
        if user is not None and Staff.objects.filter(user_id=user.pk).exists():
            return None
        return user

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        accounts.account_password_reset_completed(user=form.user)
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/account/password_reset_complete.html"


@require_GET
@resident_required
def profile(request: HttpRequest) -> HttpResponse:
    item = ResidentProfile.objects.filter(user=_resident(request)).first()
    return render(
        request,
        "portal/account/profile.html",
        {
            "profile": item,
            "birth_date_wareki": wareki(item.birth_date) if item and item.birth_date else "",
        },
    )


def _initial(item: ResidentProfile | None) -> dict[str, Any]:
    if item is None:
        return {}
    initial = {name: getattr(item, name) for name in PROFILE_FIELDS}
    initial["birth_date"] = item.birth_date.isoformat() if item.birth_date else ""
    return initial


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    user = _resident(request)
    today = to_tokyo(now()).date()
    if request.method == "POST":
        form = ProfileForm(request.POST, today=today)
        if form.is_valid():
            accounts.account_profile_update(user=user, data=form.cleaned_data)
            messages.success(request, "登録情報を保存しました。")
            return redirect("portal:account:profile")
    else:
        form = ProfileForm(
            initial=_initial(ResidentProfile.objects.filter(user=user).first()), today=today
        )
    return render(
        request,
        "portal/account/profile_edit.html",
        {"form": form},
        status=422 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def delete(request: HttpRequest) -> HttpResponse:
    user = _resident(request)
    form = DeleteForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST" and form.is_valid():
        accounts.account_delete(user=user)
        logout(request)
        return render(request, "portal/account/deleted.html")
    return render(
        request,
        "portal/account/delete.html",
        {"form": form, "retained": accounts.has_retained_data(user)},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@resident_required
def tokens(request: HttpRequest) -> HttpResponse:
    """Personal API tokens for apps that apply on the resident's behalf."""
    user = request.user
    assert isinstance(user, User)
    created = ""
    error = ""
    if request.method == "POST":
        if "revoke" in request.POST:
            token_id = parse_int(request.POST["revoke"])
            if token_id is not None and accounts.account_token_revoke(user=user, token_id=token_id):
                messages.success(request, "トークンを失効させました。")
            else:
                messages.error(
                    request, "失効させるトークンが見つかりません。一覧から選んでください。"
                )
            return redirect("portal:account:tokens")
        try:
            _token, created = accounts.account_token_create(
                user=user, name=request.POST.get("name", "")
            )
        except ValueError as refused:
            error = str(refused)
    return render(
        request,
        "portal/account/tokens.html",
        {"tokens": accounts.account_tokens(user), "created": created, "error": error},
        status=422 if error else 200,
    )
