"""Public statistics screens (オンライン利用率): national, prefecture, organisation.

Every page is a plain GET with a list selector and a fiscal-year selector; the charts and
maps are SVG drawn on the server (:mod:`madoguchi.stats.svg`) with the data table beside
them. A malformed query answers 400 with a Japanese message; an unknown organisation or
prefecture answers 404. The views only read: figures come from :mod:`madoguchi.stats.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from madoguchi.core.lgcode import InvalidLgCode, parse_lg_code
from madoguchi.core.replica import replica_reads_view
from madoguchi.stats import opendata, svg
from madoguchi.stats.categories import CategoryList, category_lists
from madoguchi.stats.figures import (
    PREFECTURE_SORTS,
    Figure,
    MunicipalityRow,
    deployment_status,
    national_table,
    organisation_table,
    prefecture_figures,
    prefecture_table,
)
from madoguchi.stats.params import (
    MAX_PARAM_LENGTH,
    BadQuery,
    current_fiscal_year,
    parse_fiscal_year,
    parse_list,
    selectable_years,
)
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import UnknownPrefecture, organisation_get, prefecture_get


@dataclass(frozen=True)
class Selection:
    category_list: CategoryList
    fiscal_year: int
    years: tuple[int, ...]

    @property
    def query(self) -> str:
        return f"list={self.category_list.code}&fy={self.fiscal_year}"


def _selection(request: HttpRequest, *, default_year: int | None = None) -> Selection:
    # Other parameters (tracking, typos) are ignored, never an error.
    fiscal_year = parse_fiscal_year(
        request.GET.get("fy"), default=default_year or current_fiscal_year()
    )
    chosen = parse_list(request.GET.get("list"), fiscal_year=fiscal_year)
    return Selection(category_list=chosen, fiscal_year=fiscal_year, years=selectable_years())


def _bad_request(request: HttpRequest, error: BadQuery) -> HttpResponse:
    return render(
        request, "portal/statistics/bad_request.html", {"message": str(error)}, status=400
    )


def _base_context(selection: Selection) -> dict[str, Any]:
    return {
        "selection": selection,
        "lists": category_lists(),
        "list_applies": selection.category_list.applies_to(selection.fiscal_year),
        # The current fiscal year is not over: its counts are of the months so far.
        "year_in_progress": selection.fiscal_year >= current_fiscal_year(),
        "rate_bands": svg.RATE_BANDS,
    }


def _rate_note(figure: Figure) -> str:
    if not figure.counted:
        return svg.no_data_label()
    return gettext("%(rate)s%%（総件数 %(total)s件、オンライン %(online)s件）") % {
        "rate": figure.rate_text,
        "total": f"{figure.total:,}",
        "online": f"{figure.online:,}",
    }


def _band_label(rate: Decimal | None) -> str:
    band = svg.rate_band(rate)
    return band.label if band else svg.no_data_label()


# --- National -----------------------------------------------------------------------------


@require_GET
@replica_reads_view
def national(request: HttpRequest) -> HttpResponse:
    try:
        selection = _selection(request)
    except BadQuery as error:
        return _bad_request(request, error)
    chosen, year = selection.category_list, selection.fiscal_year
    table = national_table(category_list=chosen, top_year=year)
    deployment = deployment_status(category_list=chosen, fiscal_year=year)
    prefectures = prefecture_figures(category_list=chosen, fiscal_year=year)

    year_row = next((row for row in table.years if row.fiscal_year == year), None)
    series = [
        svg.Bar(
            label=gettext("%(year)s年度") % {"year": row.fiscal_year},
            value=(row.published.rate if row.published else row.plain.rate),
            text=(
                gettext("%(rate)s%%（公表値）") % {"rate": row.published.rate_text}
                if row.published
                else gettext("%(rate)s%%（本システムの単純合計）") % {"rate": row.plain.rate_text}
                if row.plain.counted
                else ""
            ),
        )
        for row in table.years
    ]
    top = [
        svg.Bar(
            label=item.category.name,
            value=item.figure.online,
            text=gettext("%(online)s件（利用率 %(rate)s%%）")
            % {"online": f"{item.figure.online:,}", "rate": item.figure.rate_text},
        )
        for item in table.top_categories
    ]
    map_rows = [
        {
            "prefecture": item.prefecture,
            "figure": item.figure,
            "reporting": item.reporting,
            "band": _band_label(item.figure.rate),
        }
        for item in prefectures
    ]
    choropleth = svg.prefecture_choropleth(
        areas=[
            svg.MapArea(
                code=item.prefecture.prefecture_code,
                name=item.prefecture.name,
                rate=item.figure.rate,
                note=_rate_note(item.figure),
            )
            for item in prefectures
        ],
        title=gettext("都道府県別のオンライン利用率（%(year)s年度、%(list)s）")
        % {"year": year, "list": chosen.name},
        desc=gettext(
            "47都道府県を利用率の区分で塗り分けた地図。件数のない都道府県は斜線で示す。"
            "同じ数値を地図の下の表に示す。"
        ),
        ident="prefecture-map",
    )
    context = _base_context(selection) | {
        "table": table,
        "year_row": year_row,
        "deployment": deployment,
        "map_rows": map_rows,
        "choropleth": choropleth,
        "series_chart": svg.bar_chart(
            bars=series,
            title=gettext("オンライン利用率の推移（%(list)s）") % {"list": chosen.name},
            desc=gettext(
                "年度ごとの利用率。公表値のある年度は公表値、ない年度は本システムの単純合計。"
            ),
            ident="series-chart",
            maximum=100,
        )
        if series
        else None,
        "top_chart": svg.bar_chart(
            bars=top,
            title=gettext("オンライン利用件数の多い手続（%(year)s年度）")
            % {"year": table.top_year},
            desc=gettext("手続ごとのオンライン利用件数。同じ数値を下の表に示す。"),
            ident="top-chart",
        )
        if top
        else None,
        "downloads": _downloads("statistics:national_file", (), selection),
        "unmappable": opendata.cp932_problems(table),
        "deployment_downloads": _downloads("statistics:deployment_file", (), selection),
    }
    return render(request, "portal/statistics/national.html", context)


# --- Prefecture ---------------------------------------------------------------------------

#: Sortable columns of the prefecture table: (column, first sort, the other direction or None).
_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("name", "code", None),
    ("total", "-total", None),
    ("online", "-online", None),
    ("rate", "-rate", "rate"),
    ("population", "-population", None),
)


def _sort_links(selection: Selection, sort: str, path: str) -> dict[str, dict[str, str]]:
    links: dict[str, dict[str, str]] = {}
    for column, first, other in _COLUMNS:
        active = sort in (first, other)
        target = other if (active and other and sort == first) else first
        aria = ""
        if active:
            aria = "descending" if sort.startswith("-") else "ascending"
        links[column] = {"href": f"{path}?{selection.query}&sort={target}", "aria": aria}
    return links


@require_GET
@replica_reads_view
def prefecture(request: HttpRequest, code: str) -> HttpResponse:
    try:
        pref = prefecture_get(code=code[:MAX_PARAM_LENGTH])
    except UnknownPrefecture:
        raise Http404(gettext("その都道府県コードの都道府県はありません。")) from None
    if code != pref.prefecture_code:
        target = reverse("statistics:prefecture", args=[pref.prefecture_code])
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"{target}?{query}" if query else target)
    try:
        selection = _selection(request)
        sort = request.GET.get("sort") or "code"
        if sort not in PREFECTURE_SORTS:
            raise BadQuery(
                gettext("並べ替えの指定が正しくありません。表の見出しから選んでください。")
            )
    except BadQuery as error:
        return _bad_request(request, error)
    table = prefecture_table(
        prefecture_code=pref.prefecture_code,
        category_list=selection.category_list,
        fiscal_year=selection.fiscal_year,
        sort=sort,
    )
    dots = svg.municipality_dot_map(
        prefecture_code=pref.prefecture_code,
        places=[_place(row) for row in table.rows],
        title=gettext("%(name)sの市区町村のオンライン利用率（%(year)s年度）")
        % {"name": pref.name, "year": selection.fiscal_year},
        desc=gettext(
            "市区町村の役所の位置に置いた点の地図。点の色と大きさが利用率の区分を示し、"
            "件数のない市区町村は白抜きの輪で示す。同じ数値を下の表に示す。"
        ),
        ident="municipality-map",
    )
    path = reverse("statistics:prefecture", args=[pref.prefecture_code])
    context = _base_context(selection) | {
        "prefecture": pref,
        "table": table,
        "dots": dots,
        "sort": sort,
        "sort_label": PREFECTURE_SORTS[sort],
        "sort_links": _sort_links(selection, sort, path),
        "rows": [{"row": row, "band": _band_label(row.figure.rate)} for row in table.rows],
        "downloads": _downloads("statistics:prefecture_file", (pref.prefecture_code,), selection),
        "unmappable": opendata.cp932_problems(table),
    }
    return render(request, "portal/statistics/prefecture.html", context)


def _place(row: MunicipalityRow) -> svg.Place:
    org = row.organisation
    return svg.Place(
        code=org.lg_code,
        name=org.display_name,
        latitude=org.latitude,
        longitude=org.longitude,
        rate=row.figure.rate,
        note=_rate_note(row.figure),
    )


# --- Organisation -------------------------------------------------------------------------


def _organisation_or_404(code: str) -> Organisation:
    try:
        return organisation_get(code=code[:MAX_PARAM_LENGTH])
    except (InvalidLgCode, Organisation.DoesNotExist):
        raise Http404(gettext("その団体コードの団体はありません。")) from None


@require_GET
@replica_reads_view
def organisation(request: HttpRequest, code: str) -> HttpResponse:
    try:
        lg_code = parse_lg_code(code[:MAX_PARAM_LENGTH])
    except InvalidLgCode:
        raise Http404(gettext("その団体コードの団体はありません。")) from None
    if lg_code != code:
        target = reverse("statistics:organisation", args=[lg_code])
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"{target}?{query}" if query else target)
    org = _organisation_or_404(lg_code)
    try:
        selection = _selection(request)
    except BadQuery as error:
        return _bad_request(request, error)
    table = organisation_table(
        organisation=org,
        category_list=selection.category_list,
        fiscal_year=selection.fiscal_year,
    )
    counted = [row for row in table.rows if row.current.counted]
    chart = svg.bar_chart(
        bars=[
            svg.Bar(
                label=row.category.name if row.category else "",
                value=row.current.rate,
                text=gettext("%(rate)s%%（%(online)s / %(total)s件）")
                % {
                    "rate": row.current.rate_text,
                    "online": f"{row.current.online:,}",
                    "total": f"{row.current.total:,}",
                },
            )
            for row in counted
        ],
        title=gettext("手続ごとのオンライン利用率（%(name)s、%(year)s年度）")
        % {"name": org.display_name, "year": selection.fiscal_year},
        desc=gettext("件数のある手続の利用率。同じ数値を上の表に示す。"),
        ident="organisation-chart",
        maximum=100,
    )
    context = _base_context(selection) | {
        "org": org,
        "table": table,
        "chart": chart if counted else None,
        "downloads": _downloads("statistics:organisation_file", (org.lg_code,), selection),
        "unmappable": opendata.cp932_problems(table),
    }
    return render(request, "portal/statistics/organisation.html", context)


# --- Open data ----------------------------------------------------------------------------

#: The open-data formats: (what follows the fiscal year in the file name, label).
FORMATS: tuple[tuple[str, str], ...] = (
    (".csv", "CSV（UTF-8、BOM付き）"),
    ("-sjis.csv", "CSV（Shift_JIS）"),
    (".xlsx", "Excel（xlsx）"),
    (".json", "JSON"),
)


def _downloads(url_name: str, args: tuple[str, ...], selection: Selection) -> list[dict[str, str]]:
    return [
        {
            "href": reverse(url_name, args=[*args, f"{selection.fiscal_year}{suffix}"])
            + f"?list={selection.category_list.code}",
            "label": label,
        }
        for suffix, label in FORMATS
    ]


_FORMAT_OF = {".csv": "csv", "-sjis.csv": "sjis.csv", ".xlsx": "xlsx", ".json": "json"}


def _file_parts(request: HttpRequest, file: str) -> tuple[CategoryList, int, str]:
    """The list, fiscal year and format of an open-data file name such as 2025-sjis.csv."""
    year_text, suffix = file[:4], file[4:]
    fiscal_year = parse_fiscal_year(year_text, default=current_fiscal_year())
    chosen = parse_list(request.GET.get("list"), fiscal_year=fiscal_year)
    return chosen, fiscal_year, _FORMAT_OF[suffix]


def _file_response(data: opendata.OpenDataFile) -> HttpResponse:
    response = HttpResponse(data.content, content_type=data.content_type)
    response["Content-Disposition"] = f'attachment; filename="{data.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@replica_reads_view
def national_file(request: HttpRequest, file: str) -> HttpResponse:
    try:
        chosen, fiscal_year, fmt = _file_parts(request, file)
    except BadQuery as error:
        return _bad_request(request, error)
    return _file_response(
        opendata.national_file(category_list=chosen, fiscal_year=fiscal_year, fmt=fmt)
    )


@require_GET
@replica_reads_view
def prefecture_file(request: HttpRequest, code: str, file: str) -> HttpResponse:
    try:
        pref = prefecture_get(code=code)
    except UnknownPrefecture:
        raise Http404(gettext("その都道府県コードの都道府県はありません。")) from None
    try:
        chosen, fiscal_year, fmt = _file_parts(request, file)
    except BadQuery as error:
        return _bad_request(request, error)
    return _file_response(
        opendata.prefecture_file(
            prefecture_code=pref.prefecture_code,
            category_list=chosen,
            fiscal_year=fiscal_year,
            fmt=fmt,
        )
    )


@require_GET
@replica_reads_view
def organisation_file(request: HttpRequest, code: str, file: str) -> HttpResponse:
    org = _organisation_or_404(code)
    try:
        chosen, fiscal_year, fmt = _file_parts(request, file)
    except BadQuery as error:
        return _bad_request(request, error)
    return _file_response(
        opendata.organisation_file(
            organisation=org, category_list=chosen, fiscal_year=fiscal_year, fmt=fmt
        )
    )


@require_GET
@replica_reads_view
def deployment_file(request: HttpRequest, file: str, code: str | None = None) -> HttpResponse:
    """Deployment status as open data: the whole nation, or one prefecture (``code``)."""
    prefecture_code = None
    if code is not None:
        try:
            prefecture_code = prefecture_get(code=code).prefecture_code
        except UnknownPrefecture:
            raise Http404(gettext("その都道府県コードの都道府県はありません。")) from None
    try:
        chosen, fiscal_year, fmt = _file_parts(request, file)
    except BadQuery as error:
        return _bad_request(request, error)
    return _file_response(
        opendata.deployment_file(
            category_list=chosen,
            fiscal_year=fiscal_year,
            fmt=fmt,
            prefecture_code=prefecture_code,
        )
    )
