"""Version 1 of the HTTP API. OpenAPI at ``/api/v1/openapi.json``, docs at ``/api/v1/docs``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from django.conf import settings
from django.http import HttpRequest
from ninja import NinjaAPI, Query, Schema
from ninja.errors import HttpError
from ninja.renderers import JSONRenderer
from pydantic import Field

from madoguchi import __version__
from madoguchi.api import errors
from madoguchi.api.applications import router as applications_router
from madoguchi.api.bench import router as bench_router
from madoguchi.api.catalog import router as catalog_router
from madoguchi.api.definitions import router as definitions_router
from madoguchi.api.lotteries import router as lotteries_router
from madoguchi.api.register import router as register_router
from madoguchi.api.reservations import router as reservations_router
from madoguchi.api.schemas import ErrorOut, KindCounts, OrganisationOut, OrganisationPage
from madoguchi.api.staff import router as staff_router
from madoguchi.api.statistics import router as statistics_router
from madoguchi.api.verify import router as verify_router
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import kind_counts, organisation_get, organisations_filter


class JapaneseJSONRenderer(JSONRenderer):
    """JSON with Japanese as UTF-8 text rather than \\u escapes: readable in logs and curl."""

    json_dumps_params: Mapping[str, Any] = MappingProxyType({"ensure_ascii": False})


class RoleNinjaAPI(NinjaAPI):
    """The API whose OpenAPI schema (``/api/v1/openapi.json``, ``/api/v1/docs``) lists only the
    routes the process's ``MADOGUCHI_ROLE`` serves: the staff routes (``/api/v1/staff/…``) on
    the console side, the others on the portal side, all of them with ``all``. (The shared
    component schemas are left whole: they name data shapes, not routes.)"""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        role = str(getattr(settings, "ROLE", "all"))
        if role not in ("portal", "console"):
            return schema
        prefix = self.get_root_path(path_params or {}) if path_prefix is None else path_prefix
        staff_prefix = prefix.rstrip("/") + "/staff/"
        schema["paths"] = {
            route: item
            for route, item in schema["paths"].items()
            if route.startswith(staff_prefix) == (role == "console")
        }
        return schema


api = RoleNinjaAPI(
    renderer=JapaneseJSONRenderer(),
    title="Madoguchi API",
    version=f"1 ({__version__})",
    description="窓口（共同利用型電子申請システム）のAPI。エラーは "
    '`{"detail": "…", "errors": [{"field": "…", "message": "…"}]}` の形で返します。',
    urls_namespace="api-v1",
    docs_url="/docs",
)
errors.install(api)
api.add_router("", catalog_router)
api.add_router("", applications_router)
api.add_router("", bench_router)
api.add_router("", statistics_router)
api.add_router("", reservations_router)
api.add_router("", lotteries_router)
api.add_router("", verify_router)
api.add_router("", register_router)
api.add_router("/staff", staff_router)
api.add_router("/staff", definitions_router)

MAX_PER_PAGE = 200


def organisation_out(org: Organisation) -> OrganisationOut:
    prefecture_name = org.prefecture.name if org.prefecture else org.name
    return OrganisationOut(
        lg_code=org.lg_code,
        code5=org.code5,
        name=org.name,
        display_name=org.display_name,
        kana=org.kana,
        name_en=org.name_en,
        kind=org.kind,
        kind_label=OrganisationKind(org.kind).label,
        prefecture_code=org.prefecture_code,
        prefecture_name=prefecture_name,
        parent_lg_code=org.parent.lg_code if org.parent else None,
        latitude=float(org.latitude) if org.latitude is not None else None,
        longitude=float(org.longitude) if org.longitude is not None else None,
        population=org.population,
        population_as_of=org.population_as_of,
        active=org.active,
        is_tenant=org.is_tenant,
        url=f"/o/{org.lg_code}/",
    )


class OrganisationFilters(Schema):
    prefecture: Annotated[
        str | None, Field(None, max_length=8, description="都道府県コード（01〜47）")
    ] = None
    kind: Annotated[
        str | None,
        Field(None, max_length=32, description="種別: " + ", ".join(OrganisationKind.values)),
    ] = None
    q: Annotated[
        str | None,
        Field(
            None,
            max_length=100,
            description="名称・カナ・コードの部分一致（全角半角・ひらがなカタカナを区別しない）",
        ),
    ] = None
    active: Annotated[
        bool | None, Field(True, description="有効な団体のみ（既定 true）。false で無効のみ")
    ] = True
    page: Annotated[int, Field(1, ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(50, ge=1, le=MAX_PER_PAGE)] = 50


@api.get(
    "/organisations/",
    response={200: OrganisationPage, 422: ErrorOut},
    summary="団体の一覧・検索",
    tags=["団体マスタ"],
)
def list_organisations(
    request: HttpRequest, filters: Query[OrganisationFilters]
) -> OrganisationPage:
    try:
        qs = organisations_filter(
            prefecture=filters.prefecture, kind=filters.kind, q=filters.q, active=filters.active
        )
    except ValueError as error:
        field = "kind" if filters.kind and str(error) == filters.kind else "prefecture"
        message = (
            "種別は " + "、".join(OrganisationKind.values) + " のいずれかで指定してください。"
            if field == "kind"
            else str(error)
        )
        raise HttpError(422, message) from None
    qs = qs.select_related("prefecture", "parent")
    count = qs.count()
    start = (filters.page - 1) * filters.per_page
    rows = list(qs[start : start + filters.per_page])
    return OrganisationPage(
        count=count,
        page=filters.page,
        per_page=filters.per_page,
        pages=max(1, math.ceil(count / filters.per_page)),
        results=[organisation_out(org) for org in rows],
    )


@api.get(
    "/organisations/counts/",
    response=KindCounts,
    summary="種別ごとの団体数（有効な団体）",
    tags=["団体マスタ"],
)
def organisation_counts(request: HttpRequest) -> KindCounts:
    counts = kind_counts()
    municipalities = sum(
        counts[k] for k in ("designated_city", "city", "town", "village", "special_ward")
    )
    return KindCounts(
        **counts,
        municipalities=municipalities,
        cities_including_designated=counts["city"] + counts["designated_city"],
    )


@api.get(
    "/organisations/{code}/",
    response={200: OrganisationOut, 400: ErrorOut, 404: ErrorOut},
    summary="団体（6桁または5桁の団体コード）",
    tags=["団体マスタ"],
)
def get_organisation(request: HttpRequest, code: str) -> OrganisationOut:
    try:
        org = organisation_get(code=code)
    except InvalidLgCode as error:
        raise HttpError(400, str(error)) from None
    except Organisation.DoesNotExist:
        raise HttpError(404, "その団体コードの団体は見つかりません。") from None
    return organisation_out(org)
