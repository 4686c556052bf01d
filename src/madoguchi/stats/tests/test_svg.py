"""SVG charts and maps: well-formed, accessible, escaped, honest about missing data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from madoguchi.stats import svg

NS = {"s": "http://www.w3.org/2000/svg"}
HOSTILE = '<script>alert("x")</script>&\'"'


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def assert_accessible(root: ET.Element, *, title: str) -> None:
    assert root.get("role") == "img"
    title_el = root.find("s:title", NS)
    desc_el = root.find("s:desc", NS)
    assert title_el is not None
    assert title_el.text == title
    assert desc_el is not None
    assert desc_el.text
    labelled = (root.get("aria-labelledby") or "").split()
    assert labelled == [title_el.get("id"), desc_el.get("id")]


def hover_titles(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter("{http://www.w3.org/2000/svg}title")][1:]


def test_rate_bands_cover_every_rate_and_none_is_no_data() -> None:
    assert svg.rate_band(None) is None
    assert svg.rate_band(Decimal("0.0")).code == "r0"  # type: ignore[union-attr]
    assert svg.rate_band(Decimal("19.9")).code == "r0"  # type: ignore[union-attr]
    assert svg.rate_band(Decimal("20.0")).code == "r20"  # type: ignore[union-attr]
    assert svg.rate_band(Decimal("59.9")).code == "r40"  # type: ignore[union-attr]
    assert svg.rate_band(Decimal("80.0")).code == "r80"  # type: ignore[union-attr]
    assert svg.rate_band(Decimal("100.0")).code == "r80"  # type: ignore[union-attr]
    labels = [band.label for band in svg.RATE_BANDS]
    assert labels == ["20%未満", "20〜40%未満", "40〜60%未満", "60〜80%未満", "80%以上"]


def test_choropleth_draws_47_prefectures_and_hatches_those_without_data() -> None:
    areas = [
        svg.MapArea(code="14", name="神奈川県", rate=Decimal("52.6")),
        svg.MapArea(code="13", name="東京都", rate=None),
        svg.MapArea(code="01", name="北海道", rate=Decimal("85.0"), note="85.0%（20件中17件）"),
    ]
    root = parse(svg.prefecture_choropleth(areas=areas, title="利用率の地図", desc="説明"))
    assert_accessible(root, title="利用率の地図")
    paths = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("data-code")]
    assert [p.get("data-code") for p in paths] == [f"{n:02d}" for n in range(1, 48)]
    by_code = {p.get("data-code"): p for p in paths}
    assert by_code["14"].get("fill") == svg.RATE_BANDS[2].fill
    assert by_code["01"].get("fill") == svg.RATE_BANDS[4].fill
    # No data: hatched, and its hover text says so — for the one given as None and for one
    # not given at all.
    for code in ("13", "27"):
        assert by_code[code].get("fill") == "url(#prefecture-map-hatch)"
        assert "no-data" in (by_code[code].get("class") or "")
    titles = hover_titles(root)
    assert "神奈川県: 52.6%" in titles
    assert "東京都: データなし" in titles
    assert "大阪府: データなし" in titles
    assert "北海道: 85.0%（20件中17件）" in titles
    # The legend names every class and "no data" in words, not colour alone.
    legend_text = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "データなし" in legend_text
    assert "80%以上" in legend_text
    assert root.find(".//s:pattern[@id='prefecture-map-hatch']", NS) is not None


def test_choropleth_escapes_every_text() -> None:
    markup = svg.prefecture_choropleth(
        areas=[svg.MapArea(code="14", name=HOSTILE, rate=Decimal(1), note=HOSTILE)],
        title=HOSTILE,
        desc=HOSTILE,
        ident="map",
        legend_heading=HOSTILE,
    )
    assert "<script>" not in markup
    root = parse(markup)
    assert root.find("s:title", NS).text == HOSTILE  # type: ignore[union-attr]
    assert f"{HOSTILE}: {HOSTILE}" in hover_titles(root)


def test_choropleth_with_no_data_at_all_is_all_hatched() -> None:
    root = parse(svg.prefecture_choropleth(areas=[], title="t", desc="d"))
    fills = {
        p.get("fill") for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("data-code")
    }
    assert fills == {"url(#prefecture-map-hatch)"}


def places_of_tokyo() -> list[svg.Place]:
    return [
        svg.Place(
            code="131016", name="千代田区", latitude=35.694, longitude=139.7536, rate=Decimal(50)
        ),
        svg.Place(
            code="132012",
            name="八王子市",
            latitude=Decimal("35.6664"),
            longitude=Decimal("139.316"),
            rate=None,
        ),
        svg.Place(
            code="134210", name="小笠原村", latitude=27.0942, longitude=142.1919, rate=Decimal(9)
        ),
        svg.Place(code="139999", name=HOSTILE, latitude=None, longitude=None, rate=Decimal(1)),
    ]


def test_dot_map_places_dots_and_lists_the_rest() -> None:
    result = svg.municipality_dot_map(
        prefecture_code="13", places=places_of_tokyo(), title="東京都の市区町村", desc="説明"
    )
    root = parse(result.svg)
    assert_accessible(root, title="東京都の市区町村")
    assert [p.name for p in result.drawn] == ["千代田区", "八王子市"]
    # A remote island far from the outline is not drawn (it would shrink the map to nothing)
    # but returned to be listed; a place without coordinates likewise.
    assert [p.name for p in result.outside] == ["小笠原村"]
    assert [p.name for p in result.unplaced] == [HOSTILE]
    dots = {
        g.get("data-code"): g
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if g.get("data-code")
    }
    assert set(dots) == {"131016", "132012"}
    assert "dot--no-data" in (dots["132012"].get("class") or "")
    assert dots["132012"].find("s:title", NS).text == "八王子市: データなし"  # type: ignore[union-attr]
    assert dots["131016"].find("s:title", NS).text == "千代田区: 50%"  # type: ignore[union-attr]
    # Size repeats the class: a higher class is a bigger dot.
    radii = [band.radius for band in svg.RATE_BANDS]
    assert radii == sorted(radii)
    assert len(set(radii)) == len(radii)
    # Every dot lies inside the drawing.
    width, height = (float(v) for v in (root.get("viewBox") or "").split()[2:])
    for circle in root.iter("{http://www.w3.org/2000/svg}circle"):
        assert 0 <= float(circle.get("cx") or -1) <= width
        assert 0 <= float(circle.get("cy") or -1) <= height


def test_dot_map_without_any_place_still_draws_the_outline() -> None:
    result = svg.municipality_dot_map(prefecture_code="14", places=[], title="t", desc="d")
    root = parse(result.svg)
    assert root.find("s:path[@class='outline']", NS) is not None
    assert result.drawn == result.outside == result.unplaced == ()


@pytest.mark.parametrize("code", ["00", "48", "1", "ab", "014", "", "１４"])
def test_dot_map_refuses_a_code_that_is_no_prefecture(code: str) -> None:
    with pytest.raises(ValueError, match="not a prefecture code"):
        svg.municipality_dot_map(prefecture_code=code, places=[], title="t", desc="d")


def test_bar_chart_scales_to_the_maximum_and_marks_missing_values() -> None:
    markup = svg.bar_chart(
        bars=[
            svg.Bar(label="2016年度", value=Decimal("51.2"), text="51.2%"),
            svg.Bar(label="2017年度", value=Decimal("100.0"), text="100.0%"),
            svg.Bar(label=HOSTILE, value=None),
        ],
        title="利用率の推移",
        desc="説明",
        maximum=100,
        width=400,
    )
    root = parse(markup)
    assert_accessible(root, title="利用率の推移")
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]
    widths = [float(r.get("width") or 0) for r in bars]
    assert widths[1] == pytest.approx(400 - 86)
    assert widths[0] == pytest.approx(widths[1] * 0.512, rel=1e-3)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["2016年度", "51.2%", "2017年度", "100.0%", HOSTILE, "データなし"]


def test_bar_chart_of_nothing_says_so_and_zero_maximum_never_divides() -> None:
    root = parse(svg.bar_chart(bars=[], title="t", desc="d"))
    assert [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")] == ["データなし"]
    root = parse(svg.bar_chart(bars=[svg.Bar(label="a", value=0, text="0件")], title="t", desc="d"))
    assert [r.get("width") for r in root.iter("{http://www.w3.org/2000/svg}rect")][-1] == "0"


def test_two_charts_on_one_page_have_distinct_ids() -> None:
    one = parse(svg.bar_chart(bars=[], title="t", desc="d", ident="a"))
    two = parse(svg.bar_chart(bars=[], title="t", desc="d", ident="b"))
    ids_one = {el.get("id") for el in one.iter() if el.get("id")}
    ids_two = {el.get("id") for el in two.iter() if el.get("id")}
    assert ids_one
    assert not ids_one & ids_two


def test_a_long_procedure_name_fits_inside_the_bar_chart():
    name = "児童手当等の受給資格及び児童手当の額についての認定請求"  # 27 full-width characters
    root = parse(
        svg.bar_chart(bars=[svg.Bar(label=name, value=Decimal("50.0"))], title="t", desc="d")
    )
    width = float(root.attrib["viewBox"].split()[2])
    assert width >= 27 * 14  # the label is drawn at 14 units a character
