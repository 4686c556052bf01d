"""Public pages of the national procedure categories (国の手続分類) the online-usage
statistics count under: every list with its version, fiscal years and source, and its
categories with their codes — as HTML and as JSON (open data)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from madoguchi.stats.categories import CategoryList, category_lists, template_defaults


def _list_json(item: CategoryList) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "version": item.version,
        "first_fiscal_year": item.first_fiscal_year,
        "last_fiscal_year": item.last_fiscal_year,
        "expected_count": item.expected_count,
        "count": len(item.categories),
        "incomplete": item.incomplete,
        "note": item.note,
        "source": {
            "title": item.source.title,
            "publisher": item.source.publisher,
            "url": item.source.url,
            "published": item.source.published,
        },
        "categories": [
            {
                "code": found.code,
                "name": item.listed_name(found.code),
                "canonical_name": found.name,
                "aliases": list(found.aliases),
                "lists": list(found.lists),
            }
            for found in item.categories
        ],
    }


@require_safe
def categories_page(request: HttpRequest) -> HttpResponse:
    lists = category_lists()
    rows = [
        {
            "list": item,
            "entries": [
                {
                    "category": found,
                    "name": item.listed_name(found.code),
                    "others": [code for code in found.lists if code != item.code],
                }
                for found in item.categories
            ],
        }
        for item in lists
    ]
    return render(request, "portal/statistics/categories.html", {"rows": rows})


@require_safe
def categories_json(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(
        {
            "lists": [_list_json(item) for item in category_lists()],
            # The category a procedure adopted from each national template counts under
            # unless its organisation chooses otherwise.
            "template_defaults": dict(sorted(template_defaults().items())),
        },
        json_dumps_params={"ensure_ascii": False, "indent": 1},
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response
