"""Whatever a client sends, the API answers with a clear JSON error, never a 500.

And nothing already stored is lost or changed by what it was sent.
"""

from typing import Any

import pytest

from madoguchi.tenants.models import Organisation

LIST = "/api/v1/organisations/"
LONG = "1" * 5000
BIDI = "\u202e141003\u202c"
SQL = "' OR 1=1 --"
HTML = "<script>alert(1)</script>"
EMOJI = "🏯"


def assert_json_error(response: Any, statuses: set[int]) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) <= {"detail", "errors"}
    assert isinstance(body["detail"], str)
    assert any("\u3040" <= ch <= "\u9fff" for ch in body["detail"]), body["detail"]
    for item in body.get("errors", []):
        assert set(item) == {"field", "message"}
        assert all(isinstance(value, str) for value in item.values())
    return body


@pytest.fixture
def master_unchanged(db):
    before = list(Organisation.objects.order_by("lg_code").values_list("lg_code", "name", "active"))
    yield
    after = list(Organisation.objects.order_by("lg_code").values_list("lg_code", "name", "active"))
    assert after == before


# --- the code in the path ----------------------------------------------------------------


def test_a_wrong_check_digit_says_which_digit_is_right(client, master_unchanged):
    body = assert_json_error(client.get("/api/v1/organisations/011003/"), {400})

    assert "検査数字" in body["detail"]
    assert "2" in body["detail"]


def test_a_well_formed_code_of_no_organisation_is_404(client, master_unchanged):
    # 999997: six digits with a valid check digit, but no prefecture 99.
    body = assert_json_error(client.get("/api/v1/organisations/99999/"), {404})

    assert body["detail"] == "その団体コードの団体は見つかりません。"


@pytest.mark.parametrize(
    "code",
    [
        "abc",
        "01100a",
        "0110021",  # seven digits
        "%20",  # only a space
        "%E3%80%80",  # only an ideographic space
        LONG,
        "%00",
        "0110%0002",
        "%E2%80%AE011002",  # bidi override before a real code
        "%F0%9F%8F%AF",  # emoji
        "%27%20OR%201%3D1%20--",  # ' OR 1=1 --
        "%3Cscript%3Ealert(1)%3C%3E",
        "%FF%FE",  # not UTF-8 at all
        "..",
        "-1",
        "1e5",
        "０x１",
    ],
)
def test_hostile_codes_in_the_path_get_a_japanese_json_error(client, master_unchanged, code):
    response = client.get(f"/api/v1/organisations/{code}/")

    assert_json_error(response, {400, 404})


def test_a_code_with_a_slash_in_it_is_simply_not_found(client, master_unchanged):
    response = client.get("/api/v1/organisations/%3Cscript%3Ealert(1)%3C%2Fscript%3E/")

    assert response.status_code == 404
    assert "ページが見つかりません".encode() in response.content
    assert b"<script>alert(1)" not in response.content


def test_a_path_code_nobody_could_mean_is_never_a_500(client, master_unchanged):
    for code in (LONG + "x", "%00" * 1000, "%E2%80%AE" * 500, "9" * 100):
        response = client.get(f"/api/v1/organisations/{code}/")
        assert response.status_code in (400, 404)


# --- query parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefecture",
    ["0", "48", "99", "abc", "\x00", "1\x00", "", " ", BIDI, EMOJI, SQL, HTML, LONG, "-1", "1.5"],
)
def test_a_bad_prefecture_is_a_japanese_422(client, master_unchanged, prefecture):
    body = assert_json_error(client.get(LIST, {"prefecture": prefecture}), {422})

    assert body["detail"] == "都道府県コードは01から47までの数字で指定してください。" or body.get(
        "errors"
    )


@pytest.mark.parametrize("kind", ["\x00", "city\x00", "CITY", BIDI, EMOJI, SQL, HTML, LONG])
def test_a_bad_kind_is_a_japanese_422(client, master_unchanged, kind):
    assert_json_error(client.get(LIST, {"kind": kind}), {422})


@pytest.mark.parametrize("q", ["\x00", "横浜\x00", BIDI, EMOJI, SQL, HTML, "%", "_", "\\", "'"])
def test_odd_search_words_are_just_searched(client, master_unchanged, q):
    response = client.get(LIST, {"q": q})

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["count"], int)


@pytest.mark.parametrize("q", [SQL, HTML, EMOJI, "%", "_"])
def test_sql_and_like_wildcards_match_nothing_rather_than_everything(client, master_unchanged, q):
    assert client.get(LIST, {"q": q}).json()["count"] == 0


def test_a_nul_inside_a_search_word_is_ignored(client, master_unchanged):
    response = client.get(LIST, {"q": "横\x00浜"})

    assert "141003" in [row["lg_code"] for row in response.json()["results"]]


def test_a_bidi_override_around_a_code_still_finds_it(client, master_unchanged):
    response = client.get(LIST, {"q": BIDI})

    assert [row["lg_code"] for row in response.json()["results"]] == ["141003"]


def test_a_very_long_search_word_is_refused(client, master_unchanged):
    body = assert_json_error(client.get(LIST, {"q": "横" * 5000}), {422})

    assert body["errors"] == [{"field": "q", "message": "文字数が多すぎます。"}]


def test_several_bad_values_are_reported_together(client, master_unchanged):
    body = assert_json_error(client.get(LIST, {"page": "x", "per_page": "0"}), {422})

    assert {item["field"] for item in body["errors"]} == {"page", "per_page"}


def test_the_html_in_a_search_word_does_not_come_back_as_html(client, master_unchanged):
    response = client.get(LIST, {"q": HTML})

    assert response["Content-Type"].startswith("application/json")
    assert b"<script>" not in response.content
