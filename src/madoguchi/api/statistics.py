"""Online usage statistics (オンライン利用率): the public figures, as open data.

Public and anonymous: counts per organisation and national category only, never anything
about a person. An organisation's monthly detail is not here (the console shows it to the
organisation's staff and its group's operators).
"""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.decorators import decorate_view
from ninja.errors import HttpError
from pydantic import Field

from madoguchi.api.schemas import ErrorOut
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.replica import replica_reads_view
from madoguchi.core.time import now, to_tokyo
from madoguchi.stats.categories import CategoryList, category_list
from madoguchi.stats.figures import (
    PREFECTURE_SORTS,
    CategoryFigure,
    Figure,
    MunicipalityRow,
    NationalEstimate,
    OrganisationRow,
    Published,
    default_category_list,
    fiscal_year_of,
    national_table,
    organisation_table,
    prefecture_table,
)
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import UnknownPrefecture, organisation_get

router = Router(tags=["統計（オンライン利用率）"])

FIRST_FISCAL_YEAR = 2000
LAST_FISCAL_YEAR = 2100
RATE_DOC = "オンライン利用率（%）。小数第1位まで、四捨五入。総件数が0のときは null"


class ListOut(Schema):
    code: str = Field(description="手続一覧のコード（例 guideline-21）")
    name: str
    version: str
    first_fiscal_year: int
    last_fiscal_year: int | None = Field(description="適用の最終年度。現行の一覧は null")
    source: str = Field(description="出典")


class RowOut(Schema):
    category: str | None = Field(description="国の手続分類コード。合計行は null")
    name: str = Field(description="手続名（国の分類の正式名称）。合計行は「合計」")
    total: int = Field(description="総件数（オンライン・窓口・郵送・取込の合計、件）")
    online: int = Field(description="オンライン件数（件）")
    rate: str | None = Field(description=RATE_DOC)


class FigureOut(Schema):
    total: int
    online: int
    rate: str | None = Field(description=RATE_DOC)


class OrganisationRowOut(RowOut):
    previous: FigureOut = Field(description="前年度の同じ手続")


class OrganisationRefOut(Schema):
    lg_code: str
    name: str


class OrganisationStatisticsOut(Schema):
    organisation: OrganisationRefOut
    fiscal_year: int = Field(description="年度（西暦、4月〜翌年3月）")
    category_list: ListOut
    list_applies: bool = Field(description="その年度に手続一覧が適用されていたか")
    wards: list[str] = Field(description="集計に含めた行政区の団体コード（指定都市）")
    rows: list[OrganisationRowOut]
    total: OrganisationRowOut


class MunicipalityOut(Schema):
    lg_code: str
    name: str
    kind: str
    population: int | None = Field(description="人口。団体マスタにないときは null（推計しない）")
    categories_online: int = Field(description="オンラインで提供している手続（分類）の数")
    total: int
    online: int
    rate: str | None = Field(description=RATE_DOC)


class PublishedOut(Schema):
    total: int
    online: int
    rate: str | None
    source: str


class PrefectureStatisticsOut(Schema):
    prefecture: OrganisationRefOut
    fiscal_year: int
    category_list: ListOut
    rows: list[RowOut] = Field(description="県内全体（市区町村と県）の手続ごとの件数")
    municipalities: list[MunicipalityOut]
    government: MunicipalityOut = Field(description="都道府県（県庁）自身の手続")
    municipalities_total: FigureOut
    total: FigureOut
    published: PublishedOut | None = Field(description="都道府県の公表値（登録があれば）")
    population_missing: int = Field(description="人口が団体マスタにない市区町村の数")


class StratumOut(Schema):
    label: str
    reporting: int = Field(description="件数のある団体数")
    reporting_without_population: int = Field(description="うち人口がなく推計から除いた数")
    reporting_population: int
    organisations: int
    population: int
    population_missing: int
    coverage: str | None = Field(description="人口のある報告団体の人口 ÷ 層の人口（%）")
    total: int
    online: int


class EstimateOut(Schema):
    total: int
    online: int
    rate: str | None
    complete: bool = Field(
        description="全団体の人口が分かっているときだけ true（false のときは人口の分かる団体の"
        "範囲の値で、全国の推計ではない）"
    )
    formula: str
    strata: list[StratumOut]


class NationalYearOut(Schema):
    fiscal_year: int = Field(description="年度")
    total: int = Field(description="年間総手続件数（単純合計）")
    online: int = Field(description="オンライン利用件数（単純合計）")
    rate: str | None = Field(description="オンライン利用率（単純合計）")
    reporting_organisations: int
    estimate: EstimateOut | None = Field(description="人口による全国推計（件数がある年度）")
    published: PublishedOut | None = Field(description="国の公表値（登録があれば）")


class NationalStatisticsOut(Schema):
    category_list: ListOut
    years: list[NationalYearOut]
    fiscal_year: int | None = Field(description="rows の年度（既定: 件数のある最新の年度）")
    rows: list[RowOut] = Field(description="手続ごとの件数（全国の単純合計）")


class YearQuery(Schema):
    fiscal_year: Annotated[
        int | None,
        Field(
            None,
            ge=FIRST_FISCAL_YEAR,
            le=LAST_FISCAL_YEAR,
            description="年度（西暦）。省略すると今年度",
        ),
    ] = None
    list: Annotated[
        str | None,
        Field(None, max_length=32, description="手続一覧のコード。省略するとその年度の一覧"),
    ] = None


class PrefectureQuery(YearQuery):
    sort: Annotated[
        str,
        Field(
            "code", max_length=16, description="市区町村の並べ替え: " + ", ".join(PREFECTURE_SORTS)
        ),
    ] = "code"


class NationalQuery(Schema):
    fiscal_year: Annotated[
        int | None,
        Field(
            None,
            ge=FIRST_FISCAL_YEAR,
            le=LAST_FISCAL_YEAR,
            description="手続ごとの件数（rows）の年度。省略すると件数のある最新の年度",
        ),
    ] = None
    list: Annotated[
        str | None, Field(None, max_length=32, description="手続一覧のコード。省略すると現行の一覧")
    ] = None


def _rate(figure: Figure | Published) -> str | None:
    value = figure.rate
    return None if value is None else f"{value:.1f}"


def _figure(figure: Figure) -> FigureOut:
    return FigureOut(total=figure.total, online=figure.online, rate=_rate(figure))


def _list_out(chosen: CategoryList) -> ListOut:
    return ListOut(
        code=chosen.code,
        name=chosen.name,
        version=chosen.version,
        first_fiscal_year=chosen.first_fiscal_year,
        last_fiscal_year=chosen.last_fiscal_year,
        source=f"{chosen.source.publisher}「{chosen.source.title}」",
    )


def _choose(code: str | None, fiscal_year: int | None) -> CategoryList:
    if code is None:
        return default_category_list(fiscal_year=fiscal_year)
    chosen = category_list(code.strip())
    if chosen is None:
        raise HttpError(
            422,
            f"手続一覧「{code}」はありません。一覧のコード（例 guideline-21）で指定してください。",
        )
    return chosen


def _year(fiscal_year: int | None) -> int:
    return fiscal_year if fiscal_year is not None else fiscal_year_of(to_tokyo(now()).date())


def _organisation(code: str) -> Organisation:
    try:
        return organisation_get(code=code)
    except InvalidLgCode as error:
        raise HttpError(400, str(error)) from None
    except Organisation.DoesNotExist:
        raise HttpError(404, "その団体コードの団体は見つかりません。") from None


def _rows(items: tuple[CategoryFigure, ...]) -> list[RowOut]:
    return [
        RowOut(
            category=item.category.code,
            name=item.category.name,
            total=item.figure.total,
            online=item.figure.online,
            rate=_rate(item.figure),
        )
        for item in items
    ]


def _published(published: Published | None) -> PublishedOut | None:
    if published is None:
        return None
    return PublishedOut(
        total=published.total,
        online=published.online,
        rate=_rate(published),
        source=published.source,
    )


def _municipality(row: MunicipalityRow) -> MunicipalityOut:
    org = row.organisation
    return MunicipalityOut(
        lg_code=org.lg_code,
        name=org.display_name,
        kind=org.kind,
        population=org.population,
        categories_online=row.categories_online,
        total=row.figure.total,
        online=row.figure.online,
        rate=_rate(row.figure),
    )


def _estimate(estimate: NationalEstimate | None) -> EstimateOut | None:
    if estimate is None:
        return None
    return EstimateOut(
        total=estimate.total,
        online=estimate.online,
        rate=estimate.rate_text if estimate.rate is not None else None,
        complete=estimate.complete,
        formula=estimate.formula,
        strata=[
            StratumOut(
                label=s.label,
                reporting=s.reporting,
                reporting_without_population=s.reporting_without_population,
                reporting_population=s.reporting_population,
                organisations=s.organisations,
                population=s.population,
                population_missing=s.population_missing,
                coverage=None if s.coverage is None else f"{s.coverage:.1f}",
                total=s.total,
                online=s.online,
            )
            for s in estimate.strata
        ],
    )


@router.get(
    "/statistics/organisations/{code}/",
    response={200: OrganisationStatisticsOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="団体の手続ごとのオンライン利用率（年度、前年度つき）",
)
@decorate_view(replica_reads_view)
def organisation_statistics(
    request: HttpRequest, code: str, query: Query[YearQuery]
) -> OrganisationStatisticsOut:
    organisation = _organisation(code)
    fiscal_year = _year(query.fiscal_year)
    chosen = _choose(query.list, fiscal_year)
    table = organisation_table(
        organisation=organisation, category_list=chosen, fiscal_year=fiscal_year
    )

    def row(item: OrganisationRow) -> OrganisationRowOut:
        return OrganisationRowOut(
            category=item.category.code if item.category else None,
            name=item.category.name if item.category else "合計",
            total=item.current.total,
            online=item.current.online,
            rate=_rate(item.current),
            previous=_figure(item.previous),
        )

    return OrganisationStatisticsOut(
        organisation=OrganisationRefOut(
            lg_code=table.organisation.lg_code, name=table.organisation.display_name
        ),
        fiscal_year=table.fiscal_year,
        category_list=_list_out(chosen),
        list_applies=table.list_applies,
        wards=[ward.lg_code for ward in table.wards],
        rows=[row(item) for item in table.rows],
        total=row(table.total),
    )


@router.get(
    "/statistics/prefectures/{code}/",
    response={200: PrefectureStatisticsOut, 404: ErrorOut, 422: ErrorOut},
    summary="都道府県の市区町村別・手続別のオンライン利用率（年度）",
)
@decorate_view(replica_reads_view)
def prefecture_statistics(
    request: HttpRequest, code: str, query: Query[PrefectureQuery]
) -> PrefectureStatisticsOut:
    fiscal_year = _year(query.fiscal_year)
    chosen = _choose(query.list, fiscal_year)
    if query.sort not in PREFECTURE_SORTS:
        raise HttpError(
            422, "並べ替え（sort）は " + "、".join(PREFECTURE_SORTS) + " のいずれかです。"
        )
    try:
        table = prefecture_table(
            prefecture_code=code, category_list=chosen, fiscal_year=fiscal_year, sort=query.sort
        )
    except UnknownPrefecture:
        raise HttpError(
            404, "その都道府県コードの都道府県はありません（01〜47の2桁で指定してください）。"
        ) from None
    return PrefectureStatisticsOut(
        prefecture=OrganisationRefOut(lg_code=table.prefecture.lg_code, name=table.prefecture.name),
        fiscal_year=table.fiscal_year,
        category_list=_list_out(chosen),
        rows=_rows(table.categories),
        municipalities=[_municipality(row) for row in table.rows],
        government=_municipality(table.government),
        municipalities_total=_figure(table.municipalities_total),
        total=_figure(table.total),
        published=_published(table.published),
        population_missing=table.population_missing,
    )


@router.get(
    "/statistics/national/",
    response={200: NationalStatisticsOut, 422: ErrorOut},
    summary="全国のオンライン利用率（年度ごと：単純合計・人口による推計・公表値）",
)
@decorate_view(replica_reads_view)
def national_statistics(request: HttpRequest, query: Query[NationalQuery]) -> NationalStatisticsOut:
    chosen = _choose(query.list, query.fiscal_year)
    table = national_table(category_list=chosen, top_year=query.fiscal_year)
    return NationalStatisticsOut(
        category_list=_list_out(chosen),
        years=[
            NationalYearOut(
                fiscal_year=year.fiscal_year,
                total=year.plain.total,
                online=year.plain.online,
                rate=_rate(year.plain),
                reporting_organisations=year.reporting_organisations,
                estimate=_estimate(year.estimate),
                published=_published(year.published),
            )
            for year in table.years
        ],
        fiscal_year=table.top_year,
        rows=_rows(table.categories),
    )
