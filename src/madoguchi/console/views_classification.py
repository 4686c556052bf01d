"""Console pages where an organisation's admins classify its procedures into the national
categories (国の手続分類) the online-usage statistics count them under."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from madoguchi.catalog.models import Procedure
from madoguchi.console.access import can_manage, staff_required
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.stats.categories import category_lists
from madoguchi.stats.selectors import procedure_classification_rows
from madoguchi.stats.services import ClassificationError, procedure_classify

#: The form's two choices that are not a category.
CHOICE_DEFAULT = "default"
CHOICE_NOT_COUNTED = "none"


def _option_groups(choice: str) -> list[dict[str, object]]:
    """The lists as option groups (official names, codes shown), the lists in force first.
    A category is one procedure whatever lists hold it (one code), so it is offered once, in
    the first list that has it: choosing it counts it in every list it belongs to."""
    groups: list[dict[str, object]] = []
    offered: set[str] = set()
    in_force_first = sorted(category_lists(), key=lambda item: item.last_fiscal_year is not None)
    for item in in_force_first:
        options = [
            {
                "value": found.code,
                "label": f"{item.listed_name(found.code)}（{found.code}）",
                "selected": found.code == choice,
            }
            for found in item.categories
            if found.code not in offered
        ]
        offered.update(found.code for found in item.categories)
        if not options:
            continue
        years = f"{item.first_fiscal_year}年度〜" + (
            f"{item.last_fiscal_year}年度" if item.last_fiscal_year else ""
        )
        groups.append({"label": f"{item.name}（{years}）", "options": options})
    return groups


@staff_required()
def classification_list(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    rows = procedure_classification_rows(organisation=staff.organisation)
    return render(
        request,
        "console/classification.html",
        {
            "staff": staff,
            "rows": rows,
            "can_manage": can_manage(staff),
            "counted": sum(1 for row in rows if row.counted_as is not None),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def classification_edit(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    found = procedure_classification_rows(
        organisation=staff.organisation, procedure_id=procedure_id
    )
    if not found:
        raise Http404
    row = found[0]
    error = ""
    choice: str | None = None
    if request.method == "POST":
        values = request.POST.getlist("category")
        choice = values[0] if len(values) == 1 else None
        if choice is None or not choice.strip():
            error = "分類を一つ選んでください。"
        else:
            code: str | None = (
                None if choice == CHOICE_DEFAULT else "" if choice == CHOICE_NOT_COUNTED else choice
            )
            user = request.user
            assert isinstance(user, User)
            try:
                procedure_classify(
                    organisation=staff.organisation,
                    procedure=row.procedure,
                    category_code=code,
                    actor=user,
                    now=now(),
                )
            except Procedure.DoesNotExist:
                raise Http404 from None
            except ClassificationError as refused:
                error = refused.message
            else:
                messages.success(request, f"「{row.procedure.name}」の分類を保存しました。")
                return redirect("console:classification")
    if choice is None:
        if not row.own_choice:
            choice = CHOICE_DEFAULT
        elif row.counted_as is None and not row.unknown_code:
            choice = CHOICE_NOT_COUNTED
        else:
            choice = row.counted_as.code if row.counted_as else row.unknown_code
    return render(
        request,
        "console/classification_form.html",
        {
            "staff": staff,
            "row": row,
            "groups": _option_groups(choice),
            "choice": choice,
            "error": error,
            "choice_default": CHOICE_DEFAULT,
            "choice_not_counted": CHOICE_NOT_COUNTED,
        },
        status=400 if error else 200,
    )
