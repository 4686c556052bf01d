"""The monthly detail of the statistics in the console: the organisation's own staff and its
groups' operators see it; anyone else gets the 404 of an unknown code."""

from __future__ import annotations

import pytest
from django.test import Client

from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import GroupOperator
from madoguchi.tenants.models import GroupMembership, Organisation, SharedGroup
from madoguchi.testing import console_login, counts_imported, resident_create, staff_create

DETAIL = "/console/statistics/141003/?list=guideline-21&fy=2025"


@pytest.fixture
def counts(organisation: Organisation) -> None:
    counts_imported(
        organisation,
        ("eltax-filing", 2025, 4, 100, 60),  # April
        ("eltax-filing", 2025, 3, 50, 40),  # March 2026, still FY2025
        ("library-reservation", 2025, 0, 20, 20),  # the whole year, no month
    )


@pytest.fixture
def operator_client(organisation: Organisation) -> Client:
    group = SharedGroup.objects.create(
        slug="kanagawa-test",
        name="神奈川テスト共同利用",
        prefecture=Organisation.objects.get(lg_code="140007"),
    )
    GroupMembership.objects.create(group=group, organisation=organisation, joined_at=now())
    operator = resident_create("operator@kanagawa.test")
    GroupOperator.objects.create(user=operator, group=group)
    return console_login(Client(), operator)


def test_staff_see_their_organisations_months_and_where_counts_come_from(staff_client, counts):
    response = staff_client.get(DETAIL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "横浜市の月別の内訳" in html
    assert "地方税申告手続（eLTAX）" in html
    # April and March columns, the year-only import, the year total and the rate.
    assert '<td class="num">100<br><span class="sub">60</span></td>' in html
    assert '<td class="num">50<br><span class="sub">40</span></td>' in html
    assert '<td class="num">150<br><span class="sub">100</span></td>' in html
    assert "66.7%" in html
    assert '<td class="num">20<br><span class="sub">20</span></td>' in html
    assert "取込: 総件数" in html
    # The console navigation links to it.
    assert 'href="/console/statistics/"' in html


def test_the_statistics_entry_goes_to_the_staff_members_own_organisation(staff_client):
    response = staff_client.get("/console/statistics/")
    assert response.status_code == 302
    assert response["Location"] == "/console/statistics/141003/"


def test_another_organisations_detail_is_404(staff_client, counts, other_organisation):
    assert staff_client.get("/console/statistics/142042/").status_code == 404
    assert staff_client.get("/console/statistics/999999/").status_code == 404
    assert staff_client.get("/console/statistics/abc/").status_code == 404


def test_other_staff_cannot_see_it_either(client, other_organisation, counts):
    stranger = staff_create(other_organisation, email="s2@kamakura.test", role=StaffRole.ADMIN)
    logged_in = console_login(client, stranger.user)
    response = logged_in.get(DETAIL)
    assert response.status_code == 404
    assert "地方税申告手続" not in response.content.decode()


def test_group_operators_see_their_members_detail(operator_client, counts):
    index = operator_client.get("/console/statistics/")
    assert index.status_code == 200
    assert 'href="/console/statistics/141003/"' in index.content.decode()
    # The members side by side: the prefecture's public comparison.
    assert 'href="/statistics/prefectures/14/"' in index.content.decode()

    response = operator_client.get(DETAIL)
    assert response.status_code == 200
    assert "66.7%" in response.content.decode()
    # A municipality outside the operator's groups: 404.
    assert operator_client.get("/console/statistics/142042/").status_code == 404


def test_anonymous_and_residents_are_refused(client, resident, counts):
    response = client.get(DETAIL)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")
    logged_in = console_login(Client(), resident)
    assert logged_in.get(DETAIL).status_code == 404


@pytest.mark.parametrize("query", ["fy=abc", "fy=1999", "list=nope", "fy=" + "1" * 3000])
def test_bad_queries_are_400_in_japanese(staff_client, query):
    response = staff_client.get(f"/console/statistics/141003/?{query}")
    assert response.status_code == 400
    assert "指定が正しくありません" in response.content.decode()
