"""Console pages for organisation admins: the organisation's staff API tokens.

An admin creates a token (its secret is shown on the answer page once and never again),
sees every token of the organisation with its scopes, last use and state, and revokes one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.console.access import staff_required
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import AccessToken, Staff
from madoguchi.integrations.tokens import (
    STAFF_SCOPES,
    TokenError,
    staff_token_create,
    staff_token_revoke,
    staff_tokens_visible_to,
)

EXPIRY_CHOICES = (
    ("30", "30日"),
    ("90", "90日"),
    ("365", "1年"),
    ("none", "期限なし（失効させるまで有効）"),
)


class TokenForm(forms.Form):
    name = forms.CharField(
        label="名前（用途が分かるように。例: 基幹系連携）",
        max_length=100,
        error_messages={
            "required": "名前を入力してください。",
            "max_length": "名前は100文字以内で入力してください。",
        },
    )
    scopes = forms.MultipleChoiceField(
        label="権限",
        choices=list(STAFF_SCOPES.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "権限を1つ以上選んでください。",
            "invalid_choice": "権限は一覧から選んでください。",
        },
    )
    expiry = forms.ChoiceField(
        label="有効期限",
        choices=EXPIRY_CHOICES,
        initial="365",
        widget=forms.RadioSelect,
        error_messages={
            "required": "有効期限を選んでください。",
            "invalid_choice": "有効期限は一覧から選んでください。",
        },
    )


def _no_store(response: HttpResponse) -> HttpResponse:
    # The secret must not stay in a shared browser's cache or history.
    response["Cache-Control"] = "no-store"
    return response


def _state(token: AccessToken, at: Any) -> str:
    if token.revoked_at is not None:
        return "失効"
    if token.expires_at is not None and token.expires_at <= at:
        return "期限切れ"
    return "有効"


@require_http_methods(["GET", "POST"])
@staff_required()
def tokens(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """Admins issue and see every token of the organisation; any other member sees and can
    revoke the tokens they issued (a demoted admin's tokens have ended, but stay in view)."""
    current = now()
    form = TokenForm(request.POST or None)
    if request.method == "POST" and staff.role != StaffRole.ADMIN:
        raise PermissionDenied("APIトークンを発行できるのは団体管理者だけです。")
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expiry"]
        expires_at = None if days == "none" else current + timedelta(days=int(days))
        try:
            token, raw = staff_token_create(
                staff=staff,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=expires_at,
                now=current,
            )
        except TokenError as error:
            form.add_error(None, str(error))
        else:
            return _no_store(
                render(
                    request,
                    "console/integrations/token_created.html",
                    {"staff": staff, "token": token, "raw": raw, "scopes": STAFF_SCOPES},
                )
            )
    rows = [
        {"token": token, "state": _state(token, current)}
        for token in staff_tokens_visible_to(staff=staff)[:200]
    ]
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "console/integrations/tokens.html",
        {
            "staff": staff,
            "form": form,
            "rows": rows,
            "scopes": STAFF_SCOPES,
            "may_issue": staff.role == StaffRole.ADMIN,
        },
        status=status,
    )


@require_POST
@staff_required()
def token_revoke(request: HttpRequest, token_id: int, *, staff: Staff) -> HttpResponse:
    try:
        token = staff_tokens_visible_to(staff=staff).get(pk=token_id)
        staff_token_revoke(staff=staff, token=token, now=now())
    except AccessToken.DoesNotExist:
        raise Http404 from None
    except TokenError as error:
        messages.error(request, str(error))
        return redirect("console:tokens")
    messages.success(request, f"APIトークン「{token.name}」を失効させました。")
    return redirect("console:tokens")
