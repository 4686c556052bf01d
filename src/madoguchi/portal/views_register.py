"""発行文書の台帳 (public): each organisation's latest published head, and per organisation its
daily heads and its entries — the digests anyone can use to recompute the hash chain and to
check that a document they hold is in it. No verification code, title or name is shown."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.documents.publication import (
    HASH_VERSION,
    entry_public,
    register_entries_of,
    register_heads_of,
    registers_published,
)
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

PER_PAGE = 50
HEADS_PER_PAGE = 31


@require_safe
def register_index(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/register/index.html", {"registers": registers_published()})


@require_safe
def register_organisation(request: HttpRequest, code: str) -> HttpResponse:
    try:
        org = organisation_get(code=code)
    except (InvalidLgCode, Organisation.DoesNotExist):
        raise Http404("その団体の台帳はありません。") from None
    page = Paginator(register_entries_of(org), PER_PAGE).get_page(request.GET.get("page"))
    heads = Paginator(register_heads_of(org), HEADS_PER_PAGE).get_page(request.GET.get("heads"))
    return render(
        request,
        "portal/register/organisation.html",
        {
            "org": org,
            "page": page,
            "entries": [entry_public(entry) for entry in page.object_list],
            "heads": heads,
            "hash_version": HASH_VERSION,
        },
    )
