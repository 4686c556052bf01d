"""Console pages for organisation admins: webhook endpoints and their delivery log.

An admin registers an endpoint (URL and events; the signing secret is shown once), sees each
endpoint's deliveries (status, attempts, last answer code, time) and disables an endpoint.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.console.access import staff_required
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.integrations.models import WebhookEndpoint
from madoguchi.integrations.webhooks import (
    EVENT_TYPES,
    MAX_ATTEMPTS,
    WebhookError,
    webhook_deliveries_of,
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhook_endpoint_get,
    webhook_endpoints_of,
)


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="送信先URL",
        max_length=500,
        help_text="https:// で始まる、受信するシステムのURL。",
        error_messages={
            "required": "送信先URLを入力してください。",
            "max_length": "送信先URLは500文字以内で入力してください。",
        },
    )
    events = forms.MultipleChoiceField(
        label="送る出来事",
        choices=list(EVENT_TYPES.items()),
        initial=list(EVENT_TYPES),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "送る出来事を1つ以上選んでください。",
            "invalid_choice": "送る出来事は一覧から選んでください。",
        },
    )
    description = forms.CharField(
        label="説明（任意）",
        max_length=200,
        required=False,
        error_messages={"max_length": "説明は200文字以内で入力してください。"},
    )


def _endpoint(staff: Staff, endpoint_id: int) -> WebhookEndpoint:
    try:
        return webhook_endpoint_get(organisation=staff.organisation, endpoint_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise Http404 from None


@require_http_methods(["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def webhooks(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = webhook_endpoint_create(
                organisation=staff.organisation,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                actor=staff.user,
                now=now(),
            )
        except WebhookError as error:
            form.add_error("url", str(error))
        else:
            response = render(
                request,
                "console/integrations/webhook_created.html",
                {"staff": staff, "endpoint": endpoint, "secret": secret, "events": EVENT_TYPES},
            )
            response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
            return response
    endpoints = list(webhook_endpoints_of(organisation=staff.organisation)[:100])
    return render(
        request,
        "console/integrations/webhooks.html",
        {"staff": staff, "form": form, "endpoints": endpoints, "events": EVENT_TYPES},
        status=422 if request.method == "POST" else 200,
    )


@require_GET
@staff_required(StaffRole.ADMIN)
def webhook_detail(request: HttpRequest, endpoint_id: int, *, staff: Staff) -> HttpResponse:
    endpoint = _endpoint(staff, endpoint_id)
    deliveries = webhook_deliveries_of(organisation=staff.organisation, endpoint=endpoint)
    return render(
        request,
        "console/integrations/webhook.html",
        {
            "staff": staff,
            "endpoint": endpoint,
            "deliveries": deliveries,
            "events": EVENT_TYPES,
            "max_attempts": MAX_ATTEMPTS,
        },
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def webhook_disable(request: HttpRequest, endpoint_id: int, *, staff: Staff) -> HttpResponse:
    endpoint = _endpoint(staff, endpoint_id)
    webhook_endpoint_disable(
        organisation=staff.organisation, endpoint=endpoint, actor=staff.user, now=now()
    )
    messages.success(request, f"送信先 {endpoint.url} を無効にしました。以後は送信しません。")
    return redirect("console:webhook", endpoint_id=endpoint.pk)
