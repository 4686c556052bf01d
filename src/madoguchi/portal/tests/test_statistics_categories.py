"""The public page of the national procedure categories, and the same as JSON."""

from __future__ import annotations

import json

from django.urls import reverse

from madoguchi.stats.categories import category_lists

PAGE = reverse("portal:statistics_categories")
JSON = reverse("portal:statistics_categories_json")


def test_urls_are_stable():
    assert PAGE == "/statistics/categories/"
    assert JSON == "/statistics/categories.json"


def test_the_page_lists_every_list_with_its_source_years_and_codes(client, db):
    response = client.get(PAGE)
    page = response.content.decode()

    assert response.status_code == 200
    for item in category_lists():
        assert item.name in page
        assert f'href="{item.source.url}"' in page
        assert f'id="list-{item.code}"' in page
        for found in item.categories:
            assert f"<code>{found.code}</code>" in page
            assert item.listed_name(found.code) in page
    assert "2006年度から2019年度まで" in page
    assert "2020年度から（現行）" in page
    assert "21手続のうち4手続を掲載" in page
    assert "この一覧は未完成です。" in page
    assert '<th scope="col">コード</th>' in page
    assert "<caption>" in page
    assert f'href="{JSON}"' in page


def test_the_page_in_english(client, db):
    page = client.get(PAGE, headers={"accept-language": "en"}).content.decode()

    assert "National procedure categories (online usage statistics)" in page
    assert "Fiscal years 2006 to 2019" in page
    assert "4 of 21 procedures listed" in page
    # Official names stay as the source spells them.
    assert "図書館の図書貸出予約等" in page


def test_the_json_has_the_same_lists(client, db):
    response = client.get(JSON)
    data = json.loads(response.content)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert [item["code"] for item in data["lists"]] == [item.code for item in category_lists()]
    guideline = next(item for item in data["lists"] if item["code"] == "guideline-21")
    assert guideline["first_fiscal_year"] == 2006
    assert guideline["last_fiscal_year"] == 2019
    assert guideline["expected_count"] == 21
    assert guideline["count"] == 4
    assert guideline["incomplete"] is True
    assert guideline["note"]
    assert guideline["source"]["publisher"] == "総務省"
    assert guideline["source"]["url"].startswith("https://")
    event = next(c for c in guideline["categories"] if c["code"] == "event-application")
    assert event["name"] == "研修・講習・イベント等の申込"
    assert event["canonical_name"] == "研修・講習・各種イベント等の申込"
    assert set(event["lists"]) == {"guideline-21", "priority-59"}
    assert data["template_defaults"]["risai-shomei"] == "disaster-certificate"
    assert "juminhyo" not in data["template_defaults"]
    kosodate = next(item for item in data["lists"] if item["code"] == "kosodate-kaigo-26")
    assert kosodate["count"] == kosodate["expected_count"] == 26


def test_only_safe_methods(client, db):
    assert client.post(PAGE).status_code == 405
    assert client.post(JSON).status_code == 405
    assert client.head(JSON).status_code == 200
