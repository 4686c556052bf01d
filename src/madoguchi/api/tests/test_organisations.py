"""A developer of a municipal website reads the organisation master through the API."""

from typing import Any

import pytest

from madoguchi.tenants.models import Organisation

LIST = "/api/v1/organisations/"


def lg_codes(response: Any) -> list[str]:
    return [row["lg_code"] for row in response.json()["results"]]


def assert_japanese_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) <= {"detail", "errors"}
    assert isinstance(body["detail"], str)
    assert any("\u3040" <= ch <= "\u9fff" for ch in body["detail"]), body["detail"]
    for item in body.get("errors", []):
        assert set(item) == {"field", "message"}
        assert isinstance(item["field"], str)
        assert isinstance(item["message"], str)
    return body


# --- filters -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefecture", ["14", "１４"])
def test_prefecture_filter_lists_kanagawa_and_everything_in_it(client, db, prefecture):
    response = client.get(LIST, {"prefecture": prefecture, "per_page": 200})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == Organisation.objects.filter(prefecture_code="14").count()
    assert {row["prefecture_code"] for row in body["results"]} == {"14"}
    assert {row["prefecture_name"] for row in body["results"]} == {"神奈川県"}
    assert "141003" in lg_codes(response)


def test_a_one_digit_prefecture_code_means_the_zero_padded_one(client, db):
    response = client.get(LIST, {"prefecture": "4"})

    assert response.status_code == 200
    assert {row["prefecture_code"] for row in response.json()["results"]} == {"04"}
    assert response.json()["results"][0]["name"] == "宮城県"


def test_kind_filter_lists_only_that_kind(client, db):
    response = client.get(LIST, {"kind": "designated_city", "per_page": 200})

    body = response.json()
    assert body["count"] == 20
    assert {row["kind"] for row in body["results"]} == {"designated_city"}
    assert {row["kind_label"] for row in body["results"]} == {"指定都市"}
    assert "141003" in lg_codes(response)


def test_prefecture_and_kind_combine(client, db):
    response = client.get(LIST, {"prefecture": "14", "kind": "designated_city"})

    assert [row["name"] for row in response.json()["results"]] == ["横浜市", "川崎市", "相模原市"]


@pytest.mark.parametrize(
    "q",
    ["横浜", "よこはま", "ヨコハマ", "ﾖｺﾊﾏ", "１４１００３", "141003", "よこ はま", "横浜市"],
)
def test_search_finds_yokohama_however_it_is_typed(client, db, q):
    response = client.get(LIST, {"q": q, "per_page": 200})

    assert response.status_code == 200
    assert "141003" in lg_codes(response)


def test_search_is_a_partial_match_that_includes_the_wards_with_their_city(client, db):
    response = client.get(LIST, {"q": "横浜", "per_page": 200})

    rows = response.json()["results"]
    wards = [row for row in rows if row["kind"] == "ward"]
    assert len(wards) == 18
    tsurumi = next(row for row in wards if row["lg_code"] == "141011")
    assert tsurumi["display_name"] == "横浜市鶴見区"
    assert tsurumi["parent_lg_code"] == "141003"
    assert tsurumi["is_tenant"] is False


def test_search_for_kamakura_in_hiragana_does_not_find_yokohama(client, db):
    response = client.get(LIST, {"q": "かまくら"})

    assert lg_codes(response) == ["142042"]


def test_only_active_organisations_are_listed_by_default(client, db):
    Organisation.objects.filter(lg_code="142042").update(active=False)

    default = client.get(LIST, {"prefecture": "14", "per_page": 200})
    explicit = client.get(LIST, {"prefecture": "14", "per_page": 200, "active": "true"})

    assert "142042" not in lg_codes(default)
    assert lg_codes(default) == lg_codes(explicit)


def test_active_false_lists_only_the_inactive_ones(client, db):
    Organisation.objects.filter(lg_code="142042").update(active=False)

    response = client.get(LIST, {"active": "false"})

    body = response.json()
    assert body["count"] == 1
    assert lg_codes(response) == ["142042"]
    assert body["results"][0]["active"] is False


def test_active_must_be_true_or_false(client, db):
    body = assert_japanese_error(client.get(LIST, {"active": "maybe"}), 422)

    assert body["errors"] == [
        {"field": "active", "message": "true または false で指定してください。"}
    ]


def test_an_unknown_kind_is_explained(client, db):
    body = assert_japanese_error(client.get(LIST, {"kind": "metropolis"}), 422)

    assert "designated_city" in body["detail"]


# --- pagination --------------------------------------------------------------------------


def test_pages_are_counted_and_walk_through_all_rows(client, db):
    total = Organisation.objects.filter(prefecture_code="14", active=True).count()

    first = client.get(LIST, {"prefecture": "14", "per_page": 25}).json()
    seen = []
    for page in range(1, first["pages"] + 1):
        body = client.get(LIST, {"prefecture": "14", "per_page": 25, "page": page}).json()
        assert body["page"] == page
        assert body["per_page"] == 25
        seen += [row["lg_code"] for row in body["results"]]

    assert first["count"] == total
    assert first["pages"] == -(-total // 25)
    assert len(seen) == total == len(set(seen))
    assert seen == sorted(seen)


def test_a_page_beyond_the_end_is_empty_not_an_error(client, db):
    response = client.get(LIST, {"prefecture": "14", "page": 999})

    body = response.json()
    assert response.status_code == 200
    assert body["results"] == []
    assert body["count"] > 0
    assert body["page"] == 999


def test_default_page_size_is_fifty_and_at_most_two_hundred_can_be_asked(client, db):
    assert len(client.get(LIST).json()["results"]) == 50
    body = client.get(LIST, {"per_page": 200}).json()
    assert len(body["results"]) == 200
    assert body["count"] == 1963
    assert body["pages"] == 10


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": 0}, "per_page"),
        ({"per_page": 201}, "per_page"),
        ({"per_page": "many"}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page": "99999999999999999999999"}, "page"),
    ],
)
def test_page_sizes_and_numbers_out_of_range_are_refused_in_japanese(client, db, params, field):
    body = assert_japanese_error(client.get(LIST, params), 422)

    assert body["detail"] == "リクエストの値に誤りがあります。"
    assert [item["field"] for item in body["errors"]] == [field]


# --- counts ------------------------------------------------------------------------------


def test_counts_match_the_official_numbers(client, db):
    response = client.get("/api/v1/organisations/counts/")

    assert response.status_code == 200
    assert response.json() == {
        "prefecture": 47,
        "municipalities": 1741,
        "cities_including_designated": 792,
        "designated_city": 20,
        "city": 772,
        "town": 743,
        "village": 183,
        "special_ward": 23,
        "ward": 175,
    }


# --- one organisation --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["011002", "01100", "０１１００２", "０１１００"])
def test_sapporo_by_six_or_five_digit_code_in_any_width(client, db, code):
    response = client.get(f"/api/v1/organisations/{code}/")

    assert response.status_code == 200
    body = response.json()
    assert body["lg_code"] == "011002"
    assert body["code5"] == "01100"
    assert body["name"] == "札幌市"
    assert body["kind"] == "designated_city"
    assert body["prefecture_name"] == "北海道"
    assert body["url"] == "/o/011002/"


def test_chiyoda_is_a_special_ward_of_tokyo(client, db):
    body = client.get("/api/v1/organisations/131016/").json()

    assert body["name"] == "千代田区"
    assert body["kind"] == "special_ward"
    assert body["kind_label"] == "特別区"
    assert body["prefecture_code"] == "13"
    assert body["parent_lg_code"] is None
    assert body["is_tenant"] is True


def test_a_ward_names_its_city(client, db):
    body = client.get("/api/v1/organisations/141011/").json()

    assert body["display_name"] == "横浜市鶴見区"
    assert body["parent_lg_code"] == "141003"


def test_a_prefecture_is_its_own_prefecture(client, db):
    body = client.get("/api/v1/organisations/140007/").json()

    assert body["name"] == "神奈川県"
    assert body["prefecture_name"] == "神奈川県"
