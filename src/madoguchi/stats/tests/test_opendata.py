"""Open data: every table as CSV (UTF-8 with BOM, Shift_JIS), xlsx and JSON."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from madoguchi.core.time import now
from madoguchi.stats.categories import CategoryList, category_list
from madoguchi.stats.figures import organisation_table
from madoguchi.stats.opendata import (
    ORGANISATION_COLUMNS,
    cp932_problems,
    deployment_file,
    national_file,
    organisation_file,
    prefecture_file,
    to_csv_sjis,
)
from madoguchi.stats.services import published_figures_seed
from madoguchi.tenants.models import Organisation
from madoguchi.testing import counts_imported

pytestmark = pytest.mark.django_db


def _list(code: str) -> CategoryList:
    found = category_list(code)
    assert found is not None
    return found


G21 = _list("guideline-21")


def rows_of(content: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode(encoding), newline="")))


def test_an_organisations_table_in_every_format(organisation):
    counts_imported(organisation, ("library-reservation", 2018, 0, 1000, 600))
    given = {"organisation": organisation, "category_list": G21, "fiscal_year": 2018}

    utf8 = organisation_file(**given, fmt="csv")
    sjis = organisation_file(**given, fmt="sjis.csv")
    xlsx = organisation_file(**given, fmt="xlsx")
    data = organisation_file(**given, fmt="json")

    assert utf8.content.startswith(b"\xef\xbb\xbf")
    assert utf8.filename == "statistics-141003-2018-guideline-21.csv"
    assert utf8.content_type == "text/csv; charset=utf-8"
    assert b"\r\n" in utf8.content
    table = rows_of(utf8.content, "utf-8-sig")
    assert tuple(table[0]) == ORGANISATION_COLUMNS
    library = next(r for r in table if r[4] == "library-reservation")
    assert library[:9] == [
        "141003", "横浜市", "2018", "guideline-21", "library-reservation",
        "図書館の図書貸出予約等", "1000", "600", "60.0",
    ]  # fmt: skip
    assert table[-1][5] == "合計"
    assert table[-1][4] == ""
    empty = next(r for r in table if r[4] == "eltax-filing")
    assert (empty[6], empty[8]) == ("0", "")  # nothing counted: no rate
    assert rows_of(sjis.content, "cp932") == table
    assert sjis.filename.endswith("-sjis.csv")
    assert sjis.unmappable == ()
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    sheet = book.active
    assert sheet is not None
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    assert tuple(cells[0]) == ORGANISATION_COLUMNS
    library_cells = next(r for r in cells if r[4] == "library-reservation")
    assert library_cells[6:9] == [1000, 600, 60.0]
    parsed = json.loads(data.content)
    assert data.content_type == "application/json; charset=utf-8"
    first = next(r for r in parsed["rows"] if r["category"] == "library-reservation")
    assert {k: first[k] for k in ("category", "name", "total", "online", "rate")} == {
        "category": "library-reservation",
        "name": "図書館の図書貸出予約等",
        "total": 1000,
        "online": 600,
        "rate": "60.0",
    }
    assert parsed["total"]["rate"] == "60.0"
    with pytest.raises(ValueError, match="形式"):
        organisation_file(**given, fmt="pdf")


def test_a_name_outside_shift_jis_becomes_a_geta_and_is_reported(organisation):
    # 𠮷 (U+20BB7) is not in cp932; 髙 is (IBM extension) and must survive.
    Organisation.objects.filter(pk=organisation.pk).update(name="𠮷髙市")
    organisation.refresh_from_db()
    table = organisation_table(organisation=organisation, category_list=G21, fiscal_year=2018)

    sjis = to_csv_sjis(table)

    rows = rows_of(sjis.content, "cp932")
    assert rows[1][1] == "〓髙市"
    assert b"?" not in sjis.content
    problems = sjis.unmappable
    assert {(p.column, p.character, p.code_point) for p in problems} == {
        ("団体名", "𠮷", "U+20BB7")
    }
    assert len(problems) == len(rows) - 1  # every row carries the name
    assert cp932_problems(table) == problems


def test_formulas_in_names_are_neutralised_in_csv(organisation):
    Organisation.objects.filter(pk=organisation.pk).update(name="=HYPERLINK(1)")
    organisation.refresh_from_db()
    utf8 = organisation_file(
        organisation=organisation, category_list=G21, fiscal_year=2018, fmt="csv"
    )
    assert rows_of(utf8.content, "utf-8-sig")[1][1] == "'=HYPERLINK(1)"


def test_prefecture_national_and_deployment_files(organisation, other_organisation):
    published_figures_seed(now=now())
    counts_imported(organisation, ("library-reservation", 2018, 0, 300, 150))
    counts_imported(other_organisation, ("library-reservation", 2018, 0, 100, 100))

    prefecture = rows_of(
        prefecture_file(
            prefecture_code="14", category_list=G21, fiscal_year=2018, fmt="csv"
        ).content,
        "utf-8-sig",
    )
    national = national_file(category_list=G21, fiscal_year=2018, fmt="xlsx")
    national_json = json.loads(
        national_file(category_list=G21, fiscal_year=2018, fmt="json").content
    )
    deployment = rows_of(
        deployment_file(
            category_list=G21, fiscal_year=2018, prefecture_code="14", fmt="sjis.csv"
        ).content,
        "cp932",
    )

    yokohama = next(r for r in prefecture if r[0] == "141003")
    assert yokohama[5:8] == ["300", "150", "50.0"]
    assert prefecture[-1][1:2] == ["合計"]
    assert prefecture[-1][5:8] == ["400", "250", "62.5"]
    assert prefecture[-3][0] == "140007"  # the prefectural government's own row
    book = openpyxl.load_workbook(io.BytesIO(national.content))
    assert book.sheetnames == ["全国", "上位の手続"]
    series = [[c.value for c in r] for r in book["全国"].iter_rows()]
    assert [(r[0], r[15]) for r in series[1:]] == [(2016, 51.2), (2017, 52.4), (2018, 52.6)]
    assert series[3][2:5] == [400, 250, 62.5]
    assert [y["published"]["rate"] for y in national_json["years"]] == ["51.2", "52.4", "52.6"]
    assert national_json["top_categories"][0]["category"] == "library-reservation"
    library = next(r for r in deployment if r[3] == "library-reservation")
    assert library[0] == "神奈川県"
    assert library[5:7] == ["2", "2"]
