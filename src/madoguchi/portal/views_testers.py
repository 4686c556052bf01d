"""運用テスト: a resident accepts an invitation to test a procedure before it is published."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from madoguchi.catalog.models import ProcedureTester
from madoguchi.catalog.testers import (
    ProcedureTesterError,
    procedure_tester_invitation_accept,
    procedure_tester_invitation_get,
)
from madoguchi.core.time import now
from madoguchi.portal.access import resident_of, resident_required


def _invalid(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(
        request,
        "portal/account/tester_invalid.html",
        {"message": message},
        status=404 if not message else 409,
    )


@require_http_methods(["GET", "POST"])
@resident_required
def tester_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation and a button (mail scanners open links); POST accepts it with
    the logged-in account, which may then apply to the procedure while the test runs."""
    user = resident_of(request)
    if request.method == "POST":
        try:
            tester = procedure_tester_invitation_accept(token=token, user=user, now=now())
        except ProcedureTester.DoesNotExist:
            return _invalid(request)
        except ProcedureTesterError as error:
            return _invalid(request, str(error))
        messages.success(
            request,
            gettext("運用テストへの招待を承諾しました。この手続に試験的に申請できます。"),
        )
        procedure = tester.procedure
        return redirect("portal:procedure", procedure.organisation.lg_code, procedure.pk)
    try:
        tester = procedure_tester_invitation_get(token=token, now=now())
    except ProcedureTester.DoesNotExist:
        return _invalid(request)
    return render(
        request,
        "portal/account/tester_invitation.html",
        {
            "invitation": tester,
            "invited_procedure": tester.procedure,
            "org": tester.procedure.organisation,
            "accepted_by_other": tester.user_id is not None and tester.user_id != user.pk,
        },
    )
