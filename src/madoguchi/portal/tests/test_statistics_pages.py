"""The public statistics pages: national, prefecture and organisation tables with their SVG
charts and maps, the selectors as plain GET, open data at stable URLs, and hostile queries."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest
from openpyxl import load_workbook

from madoguchi.core.time import now
from madoguchi.stats.services import published_figures_seed
from madoguchi.tenants.models import Organisation
from madoguchi.testing import counts_imported

G21 = "list=guideline-21"


def html_of(response: Any) -> str:
    return str(response.content.decode())


class Tables(HTMLParser):
    """The text of every table cell, row by row, per table; and header attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headers: list[dict[str, str | None]] = []
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
            if tag == "th":
                self.headers.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def row(self, label: str) -> list[str]:
        for table in self.tables:
            for row in table:
                if row and row[0] == label:
                    return row
        raise AssertionError(f"no row {label!r}")


def svgs(html: str) -> list[ET.Element]:
    """Each inline SVG, parsed as XML (so it must be well-formed)."""
    return [ET.fromstring(match) for match in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


@pytest.fixture
def kamakura(db: None) -> Organisation:
    return Organisation.objects.get(lg_code="142042")


@pytest.fixture
def counts(organisation: Organisation, kamakura: Organisation) -> None:
    """横浜市 and 鎌倉市 report FY2024 and FY2025; 横浜市's eLTAX is the city's published
    table (526 of 1,000 online)."""
    counts_imported(
        organisation,
        ("eltax-filing", 2025, 0, 1000, 526),
        ("library-reservation", 2025, 0, 200, 180),
        ("eltax-filing", 2024, 0, 1000, 400),
    )
    counts_imported(kamakura, ("eltax-filing", 2025, 0, 300, 30))


# --- Organisation -----------------------------------------------------------------------


def test_organisation_page_is_the_table_municipalities_publish(client, counts):
    response = client.get(f"/statistics/organisations/141003/?{G21}&fy=2025")

    assert response.status_code == 200
    html = html_of(response)
    tables = Tables(html)
    assert tables.tables[0][0] == [
        "手続",
        "総件数",
        "オンライン件数",
        "オンライン利用率",
        "前年度比",
    ]
    assert tables.row("地方税申告手続（eLTAX）") == [
        "地方税申告手続（eLTAX）",
        "1,000",
        "526",
        "52.6%",
        "+12.6",
    ]
    assert tables.row("図書館の図書貸出予約等")[1:] == ["200", "180", "90.0%", "—"]
    # A category without counts is "—", never 0%.
    assert tables.row("文化・スポーツ施設等の利用予約等")[1:] == ["0", "0", "—", "—"]
    assert tables.row("合計")[1:4] == ["1,200", "706", "58.8%"]
    # The chart beside it: accessible, well-formed, one bar per counted category.
    (chart,) = svgs(html)
    assert chart.get("role") == "img"
    texts = [t.text for t in chart.iter("{http://www.w3.org/2000/svg}text")]
    assert "地方税申告手続（eLTAX）" in texts
    assert "文化・スポーツ施設等の利用予約等" not in texts
    # Population missing: said, not guessed.
    assert "人口は登録されていません" in html
    # Open data at stable URLs.
    for href in (
        "/statistics/organisations/141003/2025.csv?list=guideline-21",
        "/statistics/organisations/141003/2025-sjis.csv?list=guideline-21",
        "/statistics/organisations/141003/2025.xlsx?list=guideline-21",
        "/statistics/organisations/141003/2025.json?list=guideline-21",
    ):
        assert f'href="{href}"' in html


def test_organisation_page_without_counts_says_so(client, organisation):
    organisation.population = 3_770_000
    organisation.save(update_fields=["population"])

    response = client.get(f"/statistics/organisations/141003/?{G21}&fy=2025")

    html = html_of(response)
    assert response.status_code == 200
    assert "2025年度の件数はまだありません" in html
    assert "3,770,000人" in html
    assert not svgs(html)  # no empty chart


def test_organisation_codes_five_digit_redirects_unknown_and_malformed_are_404(client, db):
    response = client.get(f"/statistics/organisations/14100/?{G21}&fy=2025")
    assert response.status_code == 301
    assert response["Location"] == f"/statistics/organisations/141003/?{G21}&fy=2025"
    for code in ("141002", "999999", "abc", "1" * 500, "%00", "<script>"):
        assert client.get(f"/statistics/organisations/{code}/").status_code == 404, code


@pytest.mark.parametrize(
    "query",
    [
        "fy=abc",
        "fy=1999",
        "fy=2099",
        "fy=2025-1",
        "fy=" + "9" * 5000,
        "fy=%3Cscript%3Ealert(1)%3C/script%3E",
        "fy=2025%00",
        "list=nope",
        "list=%3Cb%3Ex%3C/b%3E",
        "list=" + "a" * 5000,
        "fy[]=2025",
    ],
)
def test_hostile_queries_get_a_japanese_400_never_a_500(client, organisation, query):
    paths = ["/statistics/", "/statistics/prefectures/14/", "/statistics/organisations/141003/"]
    if query.startswith("list="):  # a file's fiscal year is in its name
        paths.append("/statistics/organisations/141003/2025.csv")
    for path in paths:
        response = client.get(f"{path}?{query}")
        html = html_of(response)
        if query == "fy[]=2025":  # an unknown parameter is ignored
            assert response.status_code == 200, path
            continue
        assert response.status_code == 400, (path, query)
        assert "指定が正しくありません" in html
        assert "<script>alert" not in html
        assert "<b>x</b>" not in html


def test_fiscal_year_accepts_full_width_digits_and_nendo(client, counts):
    for fy in ("２０２５", "2025年度", " 2025 "):
        response = client.get(f"/statistics/organisations/141003/?{G21}", {"fy": fy})
        assert response.status_code == 200, fy
        assert "52.6%" in html_of(response)


# --- Prefecture -----------------------------------------------------------------------


def test_prefecture_page_compares_municipalities_and_maps_them(client, counts):
    response = client.get(f"/statistics/prefectures/14/?{G21}&fy=2025")

    assert response.status_code == 200
    html = html_of(response)
    tables = Tables(html)
    assert tables.row("横浜市")[1:5] == ["1,200", "706", "58.8%", "40〜60%未満"]
    assert tables.row("鎌倉市")[1:5] == ["300", "30", "10.0%", "20%未満"]
    assert tables.row("藤沢市")[1:5] == ["0", "0", "—", "データなし"]
    assert tables.row("合計")[1:] == ["1,500", "736", "49.1%"]
    assert tables.row("公表値")[1] == "公表値は登録されていません"
    # The dot map: one dot per municipality (all of Kanagawa's have coordinates), the
    # counted ones coloured by class, the others hollow; the reason for dots is said.
    (dot_map,) = svgs(html)
    dots = {
        g.get("data-code"): g.get("class")
        for g in dot_map.iter("{http://www.w3.org/2000/svg}g")
        if g.get("data-code")
    }
    assert len(dots) == 33
    assert dots["141003"] == "dot dot--r40"
    assert dots["142042"] == "dot dot--r0"
    assert dots["142051"] == "dot dot--no-data"
    assert "団体マスタの位置" in html
    assert 'href="/statistics/prefectures/14/2025.csv?list=guideline-21"' in html


def test_prefecture_table_sorts_by_server_links_with_aria_sort(client, counts):
    response = client.get(f"/statistics/prefectures/14/?{G21}&fy=2025&sort=-rate")

    tables = Tables(html_of(response))
    names = [row[0] for row in tables.tables[-1][1:]]
    assert names[:2] == ["横浜市", "鎌倉市"]
    sorted_headers = [h for h in tables.headers if h.get("aria-sort")]
    assert len(sorted_headers) == 1
    assert sorted_headers[0]["aria-sort"] == "descending"
    html = html_of(response)
    # The rate header now offers the other direction; the sort survives the selector form.
    assert f'href="/statistics/prefectures/14/?{G21}&amp;fy=2025&amp;sort=rate"' in html
    assert '<input type="hidden" name="sort" value="-rate">' in html

    ascending = Tables(html_of(client.get(f"/statistics/prefectures/14/?{G21}&fy=2025&sort=rate")))
    names = [row[0] for row in ascending.tables[-1][1:]]
    # Lowest first; no data ("—") last, whatever the direction.
    assert names[:2] == ["鎌倉市", "横浜市"]
    assert [h["aria-sort"] for h in ascending.headers if h.get("aria-sort")] == ["ascending"]

    assert client.get("/statistics/prefectures/14/?sort=name;drop").status_code == 400


def test_prefecture_codes(client, db):
    assert client.get("/statistics/prefectures/14/").status_code == 200
    response = client.get("/statistics/prefectures/１４/?fy=2025")
    assert response.status_code == 301
    assert response["Location"] == "/statistics/prefectures/14/?fy=2025"
    for code in ("00", "48", "99", "x", "1" * 300, "..", "%0a"):
        assert client.get(f"/statistics/prefectures/{code}/").status_code == 404, code


def test_tokyo_lists_its_remote_islands_under_the_map(client, db):
    html = html_of(client.get(f"/statistics/prefectures/13/?{G21}&fy=2025"))
    (dot_map,) = svgs(html)
    drawn = {g.get("data-code") for g in dot_map.iter("{http://www.w3.org/2000/svg}g")}
    assert "134210" not in drawn  # 小笠原村, 1,000 km south
    assert "地図の範囲外（離島など）" in html
    assert "小笠原村" in html


# --- National -----------------------------------------------------------------------


def test_national_page_shows_the_ministrys_series_and_the_map(client, counts):
    published_figures_seed(now=now())

    response = client.get(f"/statistics/?{G21}&fy=2025")

    assert response.status_code == 200
    html = html_of(response)
    tables = Tables(html)
    assert tables.tables[0][0] == [
        "年度",
        "区分",
        "年間総手続件数",
        "オンライン利用件数",
        "オンライン利用率",
    ]
    published = [row for row in tables.tables[0] if row and row[0] == "公表値"]
    assert [row[1:] for row in published] == [
        ["389,170,000", "199,208,000", "51.2%"],
        ["390,757,000", "204,741,000", "52.4%"],
        ["403,631,000", "212,130,000", "52.6%"],
    ]
    charts = svgs(html)
    assert len(charts) == 3  # the series, the top categories, the map
    series = [t.text for t in charts[0].iter("{http://www.w3.org/2000/svg}text")]
    assert series == [
        "2016年度",
        "51.2%（公表値）",
        "2017年度",
        "52.4%（公表値）",
        "2018年度",
        "52.6%（公表値）",
    ]
    assert tables.row("地方税申告手続（eLTAX）")[1:4] == ["1,300", "556", "42.8%"]
    # The choropleth: Kanagawa coloured by its class, the prefectures without data hatched.
    areas = {
        p.get("data-code"): p.get("fill")
        for p in charts[2].iter("{http://www.w3.org/2000/svg}path")
        if p.get("data-code")
    }
    assert len(areas) == 47
    assert areas["14"] == "#4979f5"  # 49.1%: 40〜60%
    assert areas["13"] == "url(#prefecture-map-hatch)"
    assert tables.row("神奈川県")[1:5] == ["1,500", "736", "49.1%", "40〜60%未満"]
    assert tables.row("東京都")[1:5] == ["0", "0", "—", "データなし"]
    assert f'href="/statistics/prefectures/14/?{G21}&amp;fy=2025"' in html
    assert "/statistics/categories/" in html
    assert 'href="/statistics/national/2025.json?list=guideline-21"' in html
    assert 'href="/statistics/deployment/2025.csv?list=guideline-21"' in html


def test_national_page_with_nothing_at_all(client, db):
    response = client.get("/statistics/")
    assert response.status_code == 200
    html = html_of(response)
    assert svgs(html)  # the map, all hatched
    assert "まだ件数も公表値もありません" in html


def test_statistics_are_linked_from_every_portal_page(client, db):
    assert 'href="/statistics/"' in html_of(client.get("/"))


def test_english_mode(client, counts):
    client.cookies["django_language"] = "en"
    response = client.get(f"/statistics/organisations/141003/?{G21}&fy=2025")
    html = html_of(response)
    assert response.status_code == 200
    assert 'lang="en"' in html
    assert "Online usage rate" in html
    assert "FY2025" in html


# --- Open data ----------------------------------------------------------------------


def test_open_data_files_download_in_four_formats(client, counts):
    base = "/statistics/organisations/141003/2025"
    utf8 = client.get(f"{base}.csv?{G21}")
    assert utf8.status_code == 200
    assert utf8["Content-Type"].startswith("text/csv")
    assert utf8.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in utf8["Content-Disposition"]
    assert "地方税申告手続（eLTAX）" in utf8.content.decode("utf-8-sig")

    sjis = client.get(f"{base}-sjis.csv?{G21}")
    assert sjis.status_code == 200
    assert "地方税申告手続" in sjis.content.decode("cp932")

    xlsx = client.get(f"{base}.xlsx?{G21}")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert sheet.max_row > 1

    data = client.get(f"{base}.json?{G21}")
    assert data.status_code == 200
    assert json.loads(data.content)

    for path in (
        "/statistics/prefectures/14/2025.csv",
        "/statistics/national/2025.xlsx",
        "/statistics/deployment/2025.json",
        "/statistics/prefectures/14/deployment/2025-sjis.csv",
    ):
        assert client.get(f"{path}?{G21}").status_code == 200, path


def test_open_data_bad_names_are_404_or_400(client, db):
    assert client.get("/statistics/organisations/141003/2025.exe").status_code == 404
    assert client.get("/statistics/organisations/141003/25.csv").status_code == 404
    assert client.get("/statistics/organisations/141002/2025.csv").status_code == 404
    assert client.get("/statistics/prefectures/48/2025.csv").status_code == 404
    assert client.get("/statistics/prefectures/48/deployment/2025.csv").status_code == 404
    assert client.get("/statistics/organisations/141003/1999.csv").status_code == 400
    assert client.get("/statistics/national/2025.csv?list=nope").status_code == 400


def test_the_page_says_which_names_the_shift_jis_file_cannot_write(client, counts, kamakura):
    kamakura.name = "𠮷倉市"  # 𠮷 (U+20BB7) is outside cp932
    kamakura.save(update_fields=["name"])

    html = html_of(client.get(f"/statistics/prefectures/14/?{G21}&fy=2025"))

    assert "「〓」に置き換えています" in html
    assert "𠮷倉市" in html
    assert "U+20BB7" in html
    plain = html_of(client.get(f"/statistics/organisations/141003/?{G21}&fy=2025"))
    assert "「〓」に置き換えています" not in plain


def test_portal_pages_link_to_their_statistics(client, db):
    assert 'href="/statistics/organisations/141003/"' in html_of(client.get("/o/141003/"))
    assert 'href="/statistics/prefectures/14/"' in html_of(client.get("/p/14/"))


def test_a_wards_page_leads_to_its_city_with_the_same_list_and_year(client, db):
    response = client.get("/statistics/organisations/141011/?list=priority-59&fy=2025")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/statistics/organisations/141003/?list=priority-59&amp;fy=2025"' in page
