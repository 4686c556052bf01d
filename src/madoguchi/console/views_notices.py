"""The staff member's own choice of how they hear of work waiting for them (お知らせメール)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from madoguchi.console.access import staff_required
from madoguchi.core.time import now
from madoguchi.identity.constants import NoticeMode
from madoguchi.identity.models import Staff
from madoguchi.identity.services import StaffError, staff_notice_mode_set


@require_http_methods(["GET", "POST"])
@staff_required()
def notice_settings(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            staff_notice_mode_set(
                organisation=staff.organisation,
                staff=staff,
                mode=str(request.POST.get("notice_mode", ""))[:32],
                now=now(),
            )
        except StaffError as refused:
            error = str(refused)
        else:
            messages.success(
                request, f"お知らせメールを「{staff.get_notice_mode_display()}」にしました。"
            )
            return redirect("console:notice_settings")
    return render(
        request,
        "console/notice_settings.html",
        {"staff": staff, "modes": NoticeMode.choices, "error": error},
        status=400 if error else 200,
    )
