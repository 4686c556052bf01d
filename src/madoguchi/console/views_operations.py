"""The group operators' page (運用者の画面): every member organisation of a shared group with
its figures, and the platform's health (outbox, failed deliveries, storage, certificates)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.console.access import mfa_required
from madoguchi.core.time import now as current_time
from madoguchi.identity.models import User
from madoguchi.identity.selectors import groups_operated_by
from madoguchi.integrations.selectors import system_health
from madoguchi.stats.overview import SORTS, group_overview
from madoguchi.tenants.models import SharedGroup
from madoguchi.tenants.selectors import group_get

#: Column → heading (the table's sortable columns, in order).
COLUMNS = (
    ("lg_code", "団体コード"),
    ("name", "団体名"),
    ("procedures", "公開中の手続"),
    ("applications", "今月の申請"),
    ("rate", "オンライン利用率"),
    ("last_login", "職員の最終ログイン"),
    ("seal", "公印の証明書の期限"),
)

NUMERIC = frozenset({"procedures", "applications", "rate"})


def _sort_links(current: str) -> list[dict[str, str]]:
    links = []
    for key, label in COLUMNS:
        ascending = current == key
        descending = current == f"-{key}"
        links.append(
            {
                "key": key,
                "label": label,
                # A second click on the sorted column turns the order round.
                "href": f"?sort={'-' if ascending else ''}{key}",
                "aria": "ascending" if ascending else "descending" if descending else "",
                "numeric": "yes" if key in NUMERIC else "",
            }
        )
    return links


@require_GET
@mfa_required
def group_operations(request: HttpRequest, slug: str) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # mfa_required ran first
    try:
        shared_group: SharedGroup = group_get(slug=slug)
    except SharedGroup.DoesNotExist:
        raise Http404 from None
    # The group's own operators and the platform's operators; anyone else: the same 404.
    if not user.is_staff and not groups_operated_by(user=user).filter(pk=shared_group.pk).exists():
        raise Http404
    sort = request.GET.get("sort", "lg_code")
    sort = sort if isinstance(sort, str) and sort.removeprefix("-") in SORTS else "lg_code"
    now = current_time()
    overview = group_overview(group=shared_group, now=now, sort=sort)
    return render(
        request,
        "console/group_operations.html",
        {
            "group": shared_group,
            "overview": overview,
            "health": system_health(now=now),
            "columns": _sort_links(overview.sort),
            "now": now,
        },
    )
