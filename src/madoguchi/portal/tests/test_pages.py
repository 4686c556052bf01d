"""A resident finds their municipality from the national top page or by searching."""

import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.management import call_command

from madoguchi.tenants.models import Organisation


class Page(HTMLParser):
    """What a test wants to know about a rendered page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lang: str | None = None
        self.h1: list[str] = []
        self.h2: list[str] = []
        self.links: list[tuple[str | None, str]] = []
        self._heading: str | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        if tag == "a":
            self.links.append((attributes.get("href"), attributes.get("class") or ""))
        if tag in ("h1", "h2"):
            self._heading = tag
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._heading:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._heading:
            getattr(self, tag).append("".join(self._text).strip())
            self._heading = None


def parse(response: Any) -> Page:
    return Page(text(response))


def text(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def kanagawa_portal(db, settings, tmp_path):
    """The operator has run ``madoguchi bootstrap --demo``: the Kanagawa group exists."""
    settings.DATA_DIR = tmp_path
    call_command("bootstrap", "--demo", stdout=io.StringIO())


# --- national top ------------------------------------------------------------------------


def test_top_page_lists_all_47_prefectures_in_8_regions(client, db):
    response = client.get("/")

    assert response.status_code == 200
    prefecture_links = {
        href for href, _ in parse(response).links if href and re.fullmatch(r"/p/\d\d/", href)
    }
    assert prefecture_links == {f"/p/{n:02d}/" for n in range(1, 48)}
    html = text(response)
    for region in ("北海道", "東北", "関東", "中部", "近畿", "中国", "四国", "九州・沖縄"):
        assert f">{region}</h3>" in html
    assert html.count('<section class="card"') == 8


# --- prefecture portals ------------------------------------------------------------------


def test_kanagawa_portal_shows_its_title_once_the_group_exists(client, kanagawa_portal):
    response = client.get("/p/14/")

    assert response.status_code == 200
    assert parse(response).h1 == ["かながわ電子申請ポータル"]
    assert "かながわ電子申請ヘルプデスク" in text(response)


def test_without_a_group_the_prefecture_page_is_a_plain_list(client, db):
    response = client.get("/p/14/")

    assert parse(response).h1 == ["神奈川県の市区町村"]


def test_kanagawa_municipalities_are_grouped_by_kind(client, kanagawa_portal):
    html = text(client.get("/p/14/"))
    headings = re.findall(r'<h3 id="kind-[a-z_]+">(.*?)<span class="sub">(.*?)</span></h3>', html)

    assert ["".join(h) for h in headings] == ["指定都市（3）", "市（16）", "町（13）", "村（1）"]
    # Under the organisations that accept online applications (listed first, issue 11).
    h2 = parse(client.get("/p/14/")).h2
    assert h2.index("すべての市区町村") >= 0
    assert not any(
        h.startswith("オンラインで申請できる団体") for h in h2[h2.index("すべての市区町村") :]
    )


def test_yokohama_carries_its_18_wards(client, kanagawa_portal):
    html = text(client.get("/p/14/"))

    wards = re.search(r'<ul class="link-list wards" aria-label="横浜市の区">(.*?)</ul>', html, re.S)
    assert wards is not None
    assert len(re.findall(r"<li>", wards.group(1))) == 18
    assert '<a href="/o/141011/">鶴見区</a>' in wards.group(1)


def test_a_one_digit_prefecture_code_redirects_to_the_two_digit_page(client, db):
    response = client.get("/p/4/")

    assert response.status_code == 301
    assert response["Location"] == "/p/04/"


def test_full_width_prefecture_code_redirects_too(client, db):
    response = client.get("/p/１４/")

    assert response.status_code == 301
    assert response["Location"] == "/p/14/"


@pytest.mark.parametrize("code", ["48", "00", "ab", "%00", "%E2%80%AE14", "1" * 5000, "-1"])
def test_no_such_prefecture_is_a_japanese_404(client, db, code):
    response = client.get(f"/p/{code}/")

    assert response.status_code == 404
    assert parse(response).h1 == ["ページが見つかりません"]


# --- organisation pages ------------------------------------------------------------------


def test_yokohama_page_lists_its_wards(client, db):
    response = client.get("/o/141003/")

    assert response.status_code == 200
    assert parse(response).h1 == ["横浜市"]
    assert "区" in parse(response).h2
    wards = re.search(r"<h2>区</h2>\s*<ul[^>]*>(.*?)</ul>", text(response), re.S)
    assert wards is not None
    assert len(re.findall(r'href="/o/141\d\d\d/"', wards.group(1))) == 18
    assert '<a href="/o/141011/">鶴見区</a>' in wards.group(1)


def test_a_five_digit_code_redirects_permanently_to_the_six_digit_page(client, db):
    response = client.get("/o/14100/")

    assert response.status_code == 301
    assert response["Location"] == "/o/141003/"


@pytest.mark.parametrize(
    "code", ["141004", "abc", "999997", "1" * 5000, "%00", "14100%00", "%E2%80%AE141003"]
)
def test_no_such_organisation_is_a_japanese_404(client, db, code):
    response = client.get(f"/o/{code}/")

    assert response.status_code == 404
    assert parse(response).h1 == ["ページが見つかりません"]


def test_a_ward_page_sends_the_resident_to_its_city(client, db):
    response = client.get("/o/141011/")

    assert response.status_code == 200
    assert parse(response).h1 == ["横浜市鶴見区"]
    assert "鶴見区は横浜市の行政区です" in text(response)
    assert "/o/141003/" in text(response)


def test_a_member_of_the_group_says_so(client, kanagawa_portal):
    html = text(client.get("/o/142042/"))

    assert "<dt>共同利用</dt>" in html
    assert '<a href="/p/14/">かながわ電子申請ポータル</a>' in html


def test_an_organisation_merged_away_says_so(client, db):
    Organisation.objects.filter(lg_code="142042").update(active=False)

    response = client.get("/o/142042/")

    assert response.status_code == 200
    assert "合併などにより現在は存在しません" in text(response)


# --- search ------------------------------------------------------------------------------


def test_search_in_hiragana_finds_kamakura(client, db):
    response = client.get("/search/", {"q": "かまくら"})

    assert response.status_code == 200
    assert 'href="/o/142042/">鎌倉市</a>' in text(response)
    assert "<html" in text(response)


def test_search_as_you_type_returns_only_the_results(client, db):
    response = client.get("/search/", {"q": "かまくら"}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    html = text(response)
    assert "<html" not in html
    assert "<h1" not in html
    assert 'href="/o/142042/">鎌倉市</a>' in html


def test_an_empty_search_shows_the_form_only(client, db):
    response = client.get("/search/", {"q": "   "})

    assert response.status_code == 200
    assert "に一致する" not in text(response)


def test_a_search_with_many_hits_says_it_shows_only_fifty(client, db):
    html = text(client.get("/search/", {"q": "町"}))

    assert "50件まで表示" in html
    assert len(re.findall(r'href="/o/\d{6}/"', html)) == 50


def test_wards_are_not_listed_as_search_results(client, db):
    html = text(client.get("/search/", {"q": "鶴見区"}))

    assert "/o/141011/" not in html


@pytest.mark.parametrize(
    "q",
    [
        "横" * 5000,
        "\x00",
        "かま\x00くら",
        "\u202eかまくら\u202c",
        "🏯",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "%",
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_hostile_searches_are_answered_normally(client, db, q, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get("/search/", {"q": q}, headers=headers)

    assert response.status_code == 200
    assert "<script>alert(1)" not in text(response)
    assert "\x00" not in text(response)


def test_a_hidden_nul_or_bidi_mark_does_not_stop_the_search(client, db):
    for q in ("かま\x00くら", "\u202eかまくら\u202c"):
        html = text(client.get("/search/", {"q": q}))
        assert 'href="/o/142042/"' in html
        assert "「かまくら」に一致する" in html


@pytest.mark.parametrize("q", ["\x00", "\u202e", "\u200b\ufeff", "\x00 \x00"])
def test_a_search_of_invisible_characters_only_finds_nothing(client, db, q):
    partial = text(client.get("/search/", {"q": q}, headers={"HX-Request": "true"}))

    assert "に一致する" not in partial
    assert "href=" not in partial


def test_the_portal_only_answers_get(client, db):
    assert client.post("/search/", {"q": "かまくら"}).status_code == 405


# --- every page --------------------------------------------------------------------------

PAGES = [
    "/",
    "/p/14/",
    "/p/13/",
    "/o/141003/",
    "/o/141011/",
    "/o/131016/",
    "/search/",
    "/search/?q=かまくら",
    "/search/?q=%00",
    "/p/48/",
    "/o/abc/",
    "/no/such/page/",
    "/console/login/",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_is_japanese_accessible_and_has_a_csp(client, db, url):
    response = client.get(url)

    assert response.status_code in (200, 404)
    parsed = parse(response)
    assert parsed.lang == "ja"
    assert len(parsed.h1) == 1
    assert ("#main", "skip-link") in parsed.links
    assert 'id="main"' in text(response)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
