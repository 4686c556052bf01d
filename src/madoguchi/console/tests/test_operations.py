"""The group operators' page (運用状況): every member with its figures, the system's health,
for the group's operators (and the platform's) only."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from madoguchi.core.time import now
from madoguchi.identity.models import User
from madoguchi.identity.services import group_operator_upsert
from madoguchi.integrations.models import WebhookDelivery, WebhookEndpoint
from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.services import shared_group_upsert
from madoguchi.testing import (
    STAFF_PASSWORD,
    axe_violations,
    console_login,
    procedure_publish,
    reference_data_load,
    submit,
    valid_answers,
)

PAGE = "/console/groups/shonan/operations/"


def text(response: Any) -> str:
    return str(response.content.decode())


def rows(html: str) -> list[str]:
    """The 団体コード of the table's rows, in order."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>\s*<td>(\d{6})</td>", body)


@pytest.fixture
def shonan(db):
    """A small group: 横浜市 and 鎌倉市 (藤沢市 too, with nothing going on)."""
    members = Organisation.objects.filter(lg_code__in=("141003", "142042", "142051"))
    return shared_group_upsert(
        slug="shonan", name="湘南共同利用グループ", prefecture=None, members=members, now=now()
    )


@pytest.fixture
def operator(shonan) -> User:
    return group_operator_upsert(group=shonan, email="op@shonan.test", password=STAFF_PASSWORD).user


def test_the_operator_sees_every_member_with_its_figures_and_totals(
    client, operator, organisation, resident, staff_member
):
    # イベント等の申込: one of the priority procedures the fiscal year's online rate is counted over.
    procedure = procedure_publish(organisation, "event-moushikomi")
    submit(procedure, resident, valid_answers(procedure))
    submit(procedure, resident, valid_answers(procedure))
    User.objects.filter(pk=staff_member.user.pk).update(last_login=now() - timedelta(hours=1))
    console_login(client, operator)

    response = client.get(PAGE)

    assert response.status_code == 200
    html = text(response)
    assert "<h1>運用状況</h1>" in html
    assert rows(html) == ["141003", "142042", "142051"]
    yokohama = html.split("<td>141003</td>", 1)[1].split("</tr>", 1)[0]
    assert '<a href="/console/statistics/141003/">横浜市</a>' in yokohama
    assert '<td class="num">1件</td>' in yokohama  # one procedure published
    assert '<td class="num">2件</td>' in yokohama  # two applications this month
    assert '<td class="num">100.0%</td>' in yokohama  # the fiscal year's rate: both online
    assert "ログインの記録なし" not in yokohama
    fujisawa = html.split("<td>142051</td>", 1)[1].split("</tr>", 1)[0]
    assert "件数なし" in fujisawa
    assert "ログインの記録なし" in fujisawa
    totals = html.split("<tfoot>", 1)[1]
    assert "合計" in totals
    assert '<td class="num">2件</td>' in totals
    assert '<td class="num">100.0%</td>' in totals
    # The system's health.
    assert "送信待ちのメール" in html
    assert "ファイルの保存量" in html
    # The group page links here.
    assert PAGE in text(client.get("/console/groups/shonan/"))


def test_failed_deliveries_and_backlog_are_shown(client, operator, organisation):
    moment = now()
    OutboxMessage.objects.create(
        created_at=moment - timedelta(minutes=30),
        available_at=moment,
        topic=OutboxMessage.Topic.EMAIL,
        payload={"to": "x@example.jp", "subject": "s", "body": "b"},
        attempts=3,
    )
    endpoint = WebhookEndpoint.objects.create(
        organisation=organisation,
        url="https://example.jp/hook",
        created_at=moment,
        secret_encrypted="",
    )
    WebhookDelivery.objects.create(
        organisation=organisation,
        endpoint=endpoint,
        message_id="msg_1",
        event_type="application.received",
        payload={},
        status=WebhookDelivery.Status.GAVE_UP,
        created_at=moment,
        available_at=moment,
    )
    console_login(client, operator)

    html = text(client.get(PAGE))

    assert "1通（最も古いもので約30分待ち）" in html
    assert "<strong>1通</strong>" in html  # failing, waiting for its retry
    assert "<strong>1件</strong>" in html  # a webhook given up
    assert "x@example.jp" not in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("lg_code", ["141003", "142042", "142051"]),
        ("-lg_code", ["142051", "142042", "141003"]),
        ("-applications", ["141003", "142042", "142051"]),
        ("last_login", ["141003", "142042", "142051"]),
        ("nonsense", ["141003", "142042", "142051"]),
        ("-" * 3000, ["141003", "142042", "142051"]),
    ],
)
def test_columns_sort_by_query_parameter(client, operator, procedure, resident, sort, expected):
    submit(procedure, resident, valid_answers(procedure))
    console_login(client, operator)

    response = client.get(PAGE, {"sort": sort})

    assert response.status_code == 200
    assert rows(text(response)) == expected


def test_the_sorted_column_says_so_and_links_the_other_way(client, operator):
    console_login(client, operator)

    html = text(client.get(PAGE, {"sort": "name"}))

    assert 'aria-sort="ascending"><a href="?sort=-name">団体名</a>' in html
    assert '<a href="?sort=-name">' in html
    assert '<a href="?sort=rate">オンライン利用率</a>' in html


def test_an_operator_of_another_group_gets_404(client, shonan, operator):
    other = shared_group_upsert(
        slug="miura", name="三浦グループ", prefecture=None, members=[], now=now()
    )
    stranger = group_operator_upsert(group=other, email="op@miura.test", password=STAFF_PASSWORD)
    console_login(client, stranger.user)

    assert client.get("/console/groups/miura/operations/").status_code == 200
    assert client.get(PAGE).status_code == 404


def test_staff_of_a_member_get_404(client, operator, staff_member):
    console_login(client, staff_member.user)

    assert client.get(PAGE).status_code == 404


def test_a_missing_group_is_the_same_404(client, operator):
    console_login(client, operator)

    assert client.get("/console/groups/no-such-group/operations/").status_code == 404


def test_a_platform_operator_may_look(client, shonan):
    platform = User.objects.create_user(email="root@platform.test", password=STAFF_PASSWORD)
    platform.is_staff = True
    platform.save()
    console_login(client, platform)

    assert client.get(PAGE).status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client, shonan):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


# --- in a real browser -------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_the_page_reads_on_a_desktop_and_a_phone(page, width):
    reference_data_load()
    members = Organisation.objects.filter(lg_code__in=("141003", "142042", "142051"))
    group = shared_group_upsert(
        slug="shonan", name="湘南共同利用グループ", prefecture=None, members=members, now=now()
    )
    user = group_operator_upsert(group=group, email="op@shonan.test", password=STAFF_PASSWORD).user
    client = console_login(Client(), user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/")
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.url}]
    )

    page.goto(PAGE)

    assert page.get_by_role("heading", name="運用状況").is_visible()
    assert page.locator("tbody tr").count() == 3
    # The page itself never scrolls sideways; the wide table scrolls in its own region.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_violations(page) == []
    page.get_by_role("link", name="今月の申請").click()
    page.wait_for_url("**?sort=applications")
    if os.environ.get("MADOGUCHI_SCREENSHOTS"):
        page.screenshot(
            path=f"{os.environ['MADOGUCHI_SCREENSHOTS']}/operations-{width}.png", full_page=True
        )


def test_the_seal_certificates_expiry_is_shown(client, operator, settings, tmp_path):
    from cryptography import x509 as pyca_x509

    from madoguchi.documents.seal_testca import seal_test_issue

    settings.DATA_DIR = tmp_path
    seal = seal_test_issue(lg_code="141003", organisation_name="横浜市", now=now())
    expires = pyca_x509.load_pem_x509_certificate(
        seal.certificate_path.read_bytes()
    ).not_valid_after_utc
    console_login(client, operator)

    html = text(client.get(PAGE, {"sort": "seal"}))

    yokohama = html.split("<td>141003</td>", 1)[1].split("</tr>", 1)[0]
    assert f"{expires.year}年" in yokohama
    assert "証明書なし" not in yokohama
    assert rows(html)[0] == "141003"  # rows with a certificate first
    kamakura = html.split("<td>142042</td>", 1)[1].split("</tr>", 1)[0]
    assert "証明書なし" in kamakura
