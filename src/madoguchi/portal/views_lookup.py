"""Search-as-you-type for a bank account field: the results fragment that htmx asks for.

The same rows and buttons as the page without JavaScript (``forms/_bank_results.html``); the
server stays the authority (a picked result is a button of the form, applied on the server).
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.forms.rendering import LOOKUP_KINDS, lookup_context

_FIELD_NAME = re.compile(r"[A-Za-z0-9_.]{1,100}")


@require_GET
def bank_lookup(request: HttpRequest) -> HttpResponse:
    """``?field=<input name>&kind=bank|branch&_<kind>_q.<field>=<query>``; for branches also
    ``<field>.bank_code``. Answers the results fragment (public data: the 全銀協 master)."""
    field = request.GET.get("field", "")
    kind = request.GET.get("kind", "")
    if not _FIELD_NAME.fullmatch(field) or kind not in LOOKUP_KINDS:
        return HttpResponseBadRequest(
            "検索の指定が正しくありません。".encode(), content_type="text/plain; charset=utf-8"
        )
    query = request.GET.get(f"_{kind}_q.{field}", "")[:40].replace("\x00", "")
    bank_code = request.GET.get(f"{field}.bank_code", "")[:10]
    context = lookup_context(kind=kind, name=field, query=query, bank_code=bank_code.strip())
    return render(request, "forms/_bank_results.html", {"r": context})
