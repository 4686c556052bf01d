"""An analyst reads the public figures from the API: no login, no personal data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from madoguchi.applications.models import Application
from madoguchi.core.time import now
from madoguchi.stats.services import published_figures_seed
from madoguchi.testing import counts_imported, procedure_classified, submit, valid_answers

pytestmark = pytest.mark.django_db


def test_an_organisations_rows_are_public_and_exact(client, organisation, resident):
    events = procedure_classified(organisation, "event-application")
    application = submit(events, resident, valid_answers(events)).application
    Application.objects.filter(pk=application.pk).update(
        arrived_at=datetime(2018, 5, 1, tzinfo=UTC)
    )
    counts_imported(organisation, ("library-reservation", 2018, 0, 3, 1))

    response = client.get(
        "/api/v1/statistics/organisations/141003/?fiscal_year=2018&list=guideline-21"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["organisation"] == {"lg_code": "141003", "name": "横浜市"}
    rows = {row["category"]: row for row in body["rows"]}
    assert {k: rows["library-reservation"][k] for k in ("name", "total", "online", "rate")} == {
        "name": "図書館の図書貸出予約等",
        "total": 3,
        "online": 1,
        "rate": "33.3",
    }
    assert rows["event-application"]["rate"] == "100.0"
    assert rows["eltax-filing"]["rate"] is None
    assert body["total"] == body["total"] | {
        "category": None,
        "total": 4,
        "online": 2,
        "rate": "50.0",
    }
    text = response.content.decode()
    assert "hanako" not in text
    assert resident.email not in text
    # The five-digit code finds the same organisation.
    assert client.get("/api/v1/statistics/organisations/14100/?fiscal_year=2018").status_code == 200


def test_a_prefecture_and_the_nation(client, organisation):
    published_figures_seed(now=now())
    counts_imported(organisation, ("library-reservation", 2018, 0, 300, 150))

    prefecture = client.get("/api/v1/statistics/prefectures/14/?fiscal_year=2018&sort=-rate")
    national = client.get("/api/v1/statistics/national/?list=guideline-21&fiscal_year=2018")

    assert prefecture.status_code == 200
    body = prefecture.json()
    assert body["municipalities"][0]["lg_code"] == "141003"
    assert body["municipalities"][0]["rate"] == "50.0"
    library = next(r for r in body["rows"] if r["category"] == "library-reservation")
    assert (library["total"], library["online"]) == (300, 150)
    assert national.status_code == 200
    years = national.json()["years"]
    assert [(y["fiscal_year"], y["published"]["rate"]) for y in years] == [
        (2016, "51.2"),
        (2017, "52.4"),
        (2018, "52.6"),
    ]
    assert years[-1]["rate"] == "50.0"
    assert years[-1]["estimate"] is None  # no population in the master here: no guess
    assert national.json()["rows"][0]["category"] == "library-reservation"


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/v1/statistics/organisations/999997/", 404, "見つかりません"),
        ("/api/v1/statistics/organisations/999990/", 400, "団体コード"),
        ("/api/v1/statistics/prefectures/48/", 404, "都道府県"),
        ("/api/v1/statistics/prefectures/ab/", 404, "都道府県"),
        ("/api/v1/statistics/organisations/141003/?fiscal_year=abc", 422, "整数"),
        ("/api/v1/statistics/organisations/141003/?fiscal_year=1999", 422, "小さすぎ"),
        ("/api/v1/statistics/organisations/141003/?fiscal_year=99999", 422, "大きすぎ"),
        ("/api/v1/statistics/organisations/141003/?list=nope", 422, "手続一覧"),
        ("/api/v1/statistics/prefectures/14/?sort=drop", 422, "並べ替え"),
        ("/api/v1/statistics/national/?list=" + "x" * 40, 422, "多すぎ"),
    ],
)
def test_bad_requests_answer_in_japanese(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    body = response.json()
    text = body["detail"] + "".join(e["message"] for e in body.get("errors", []))
    assert message in text


def test_the_endpoints_are_documented(client):
    document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert {
        "/api/v1/statistics/organisations/{code}/",
        "/api/v1/statistics/prefectures/{code}/",
        "/api/v1/statistics/national/",
    } <= set(paths)
    row = document["components"]["schemas"]["RowOut"]
    assert set(row["properties"]) == {"category", "name", "total", "online", "rate"}
    assert "四捨五入" in row["properties"]["rate"]["description"]
    assert {"200", "404"} <= set(
        paths["/api/v1/statistics/organisations/{code}/"]["get"]["responses"]
    )
