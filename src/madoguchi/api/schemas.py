from __future__ import annotations

from datetime import date

from ninja import Schema


class ErrorItem(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem] | None = None


class OrganisationOut(Schema):
    lg_code: str
    code5: str
    name: str
    display_name: str
    kana: str
    name_en: str
    kind: str
    kind_label: str
    prefecture_code: str
    prefecture_name: str
    parent_lg_code: str | None
    latitude: float | None
    longitude: float | None
    population: int | None
    population_as_of: date | None
    active: bool
    is_tenant: bool
    url: str


class OrganisationPage(Schema):
    count: int
    page: int
    per_page: int
    pages: int
    results: list[OrganisationOut]


class KindCounts(Schema):
    prefecture: int
    designated_city: int
    city: int
    town: int
    village: int
    special_ward: int
    ward: int
    municipalities: int
    cities_including_designated: int
