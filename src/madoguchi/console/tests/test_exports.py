"""Staff export their own organisation's applications from the console: a page per
procedure, a streamed download with a Japanese file name, a check page before Shift_JIS,
My Number only for those who may reveal it — and nothing of another organisation."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import openpyxl
import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from madoguchi.audit.models import AuditEvent
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.integrations.tests.export_helpers import (
    CHILD_MY_NUMBER,
    MY_NUMBER,
    adopt,
    base_answers,
    submit,
)
from madoguchi.testing import console_login

PURPOSE = "基幹系システム（保育）への登録のため"


@pytest.fixture
def hoiku(organisation):
    return adopt(organisation)


@pytest.fixture
def application(hoiku, resident):
    name = {"family": "𠮷田", "given": "花子", "family_kana": "ヨシダ", "given_kana": "ハナコ"}
    return submit(
        hoiku, resident, base_answers(hoiku, guardian_name=name, notes='=HYPERLINK("http://x","a")')
    )


def _client(client, organisation, role, email):
    staff = staff_upsert(
        organisation=organisation,
        email=email,
        password="correct horse battery staple 42",
        role=role,
        display_name="職員 一郎",
    )
    console_login(client, staff.user)
    return client


@pytest.fixture
def admin_client(client, organisation):
    return _client(client, organisation, StaffRole.ADMIN, "admin@yokohama.test")


@pytest.fixture
def viewer_client(client, organisation):
    return _client(client, organisation, StaffRole.VIEWER, "viewer@yokohama.test")


def url(procedure):
    return reverse("console:export", args=[procedure.pk])


def body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


def records(data: bytes, encoding: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(data.decode(encoding), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def exports_recorded() -> int:
    return AuditEvent.objects.filter(action="application.export").count()


# --- Pages ------------------------------------------------------------------------------------


def test_the_export_pages_list_the_organisations_procedures(staff_client, hoiku):
    index = staff_client.get(reverse("console:exports"))
    page = staff_client.get(url(hoiku))

    assert index.status_code == 200
    assert url(hoiku) in index.content.decode()
    text = page.content.decode()
    assert page.status_code == 200
    assert "出力形式" in text
    assert "Shift_JIS" in text
    assert "〓" in text
    assert "children.1.name.family" in text  # the column list
    assert 'name="include_specific"' in text  # a reviewer of an unassigned procedure


def test_the_console_navigation_links_to_exports(staff_client, hoiku):
    page = staff_client.get(reverse("console:home"))
    assert f'href="{reverse("console:exports")}"' in page.content.decode()


def test_an_anonymous_visitor_is_sent_to_login(client, hoiku):
    response = client.get(url(hoiku))
    assert response.status_code == 302
    assert reverse("console:login") in response["Location"] or "login" in response["Location"]


# --- Downloads --------------------------------------------------------------------------------


def test_utf8_download_streams_with_a_japanese_file_name(staff_client, hoiku, application):
    response = staff_client.post(url(hoiku), {"format": "csv-utf8", "labels": "1"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="hoiku-moushikomi_')
    assert f"filename*=UTF-8''{quote(hoiku.name, safe='')}_" in disposition
    data = body(response)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = records(data, "utf-8-sig")
    assert rows[0]["receipt_number"] == "受付番号"
    assert rows[1]["receipt_number"] == application.receipt_number
    assert rows[1]["guardian_name.family"] == "𠮷田"
    assert rows[1]["notes"].startswith("'=")
    assert rows[1]["guardian_my_number"] == "●●●●●●●●9018"
    assert exports_recorded() == 1


def test_xlsx_download_opens_in_openpyxl(staff_client, hoiku, application):
    response = staff_client.post(url(hoiku), {"format": "xlsx"})

    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "receipt_number"
    assert rows[1][0] == application.receipt_number


def test_shift_jis_first_shows_the_characters_it_cannot_hold(staff_client, hoiku, application):
    response = staff_client.post(url(hoiku), {"format": "csv-sjis"})

    assert response.status_code == 200
    assert not response.streaming
    text = response.content.decode()
    assert "Shift_JIS で表せない文字の確認" in text
    assert "1文字" in text
    assert "𠮷" in text
    assert "U+20BB7" in text
    assert application.receipt_number in text
    assert "申込者の氏名（姓）" in text
    assert "「〓」に置き換えて Shift_JIS で出力する" in text
    assert 'name="acknowledged" value="1"' in text
    assert exports_recorded() == 0


def test_shift_jis_without_anything_to_replace_downloads_at_once(staff_client, hoiku, resident):
    submit(hoiku, resident, base_answers(hoiku))

    response = staff_client.post(url(hoiku), {"format": "csv-sjis", "drop_empty": "1"})

    assert response.streaming
    rows = records(body(response), "cp932")
    assert rows[0]["guardian_name.family"] == "髙橋"
    assert rows[0]["guardian_relationship"] == "母"  # a choice as its label, by default
    assert exports_recorded() == 1


def test_a_viewer_may_not_unmask_bank_accounts(viewer_client, hoiku, application):
    response = viewer_client.post(
        url(hoiku),
        {"format": "csv-utf8", "include_bank": "1", "bank_purpose": "児童手当の支払処理のため"},
    )

    assert response.status_code == 400
    assert "口座番号を伏せずに出力できるのは" in response.content.decode()
    assert exports_recorded() == 0


def test_shift_jis_without_problems_says_so(staff_client, hoiku, resident):
    submit(hoiku, resident, base_answers(hoiku))
    response = staff_client.post(url(hoiku), {"format": "csv-sjis", "action": "check"})
    assert "Shift_JIS で表せない文字はありませんでした" in response.content.decode()


def test_shift_jis_download_after_the_check_replaces_with_geta(staff_client, hoiku, application):
    response = staff_client.post(
        url(hoiku), {"format": "csv-sjis", "acknowledged": "1", "action": "download"}
    )

    assert response["Content-Type"] == "text/csv; charset=Shift_JIS"
    assert "_sjis.csv" in response["Content-Disposition"]
    row = records(body(response), "cp932")[0]
    assert row["guardian_name.family"] == "〓田"
    assert exports_recorded() == 1


def test_the_replacement_report_downloads_as_utf8_csv(staff_client, hoiku, application):
    response = staff_client.post(url(hoiku), {"format": "csv-sjis", "action": "report"})

    rows = records(body(response), "utf-8-sig")
    assert rows[1]["receipt_number"] == application.receipt_number
    assert rows[1]["character"] == "𠮷"
    assert rows[1]["code_point"] == "U+20BB7"
    assert rows[1]["replacement"] == "〓"


# --- My Number and roles ----------------------------------------------------------------------


def test_an_admin_with_a_purpose_gets_my_number_and_it_is_recorded(
    admin_client, hoiku, application
):
    response = admin_client.post(
        url(hoiku), {"format": "csv-utf8", "include_specific": "1", "purpose": PURPOSE}
    )

    row = records(body(response), "utf-8-sig")[0]
    assert row["guardian_my_number"] == MY_NUMBER
    assert row["children.1.my_number"] == CHILD_MY_NUMBER
    assert quote("特定個人情報", safe="") in response["Content-Disposition"]
    event = AuditEvent.objects.get(action="application.export")
    assert event.reason == f"個人番号: {PURPOSE}"
    assert event.detail["specific"] is True


def test_my_number_without_a_purpose_is_refused_in_japanese(admin_client, hoiku, application):
    response = admin_client.post(url(hoiku), {"format": "csv-utf8", "include_specific": "1"})

    assert response.status_code == 400
    assert "利用目的を入力してください" in response.content.decode()
    assert exports_recorded() == 0


def test_a_viewer_exports_masked_and_is_not_offered_my_number(viewer_client, hoiku, application):
    page = viewer_client.get(url(hoiku)).content.decode()
    assert 'name="include_specific"' not in page
    assert "伏せ字" in page

    refused = viewer_client.post(
        url(hoiku), {"format": "csv-utf8", "include_specific": "1", "purpose": PURPOSE}
    )
    assert refused.status_code == 400
    assert "団体管理者" in refused.content.decode()
    assert exports_recorded() == 0

    masked = viewer_client.post(url(hoiku), {"format": "csv-utf8"})
    assert records(body(masked), "utf-8-sig")[0]["guardian_my_number"] == "●●●●●●●●9018"


# --- Other organisations and hostile input ----------------------------------------------------


def test_another_organisations_procedure_is_404(client, other_organisation, hoiku, application):
    other = _client(client, other_organisation, StaffRole.ADMIN, "admin@kamakura.test")

    assert other.get(url(hoiku)).status_code == 404
    assert other.post(url(hoiku), {"format": "csv-utf8"}).status_code == 404
    assert other.post(url(hoiku), {"format": "csv-sjis", "action": "report"}).status_code == 404
    assert other.get(reverse("console:export", args=[999999])).status_code == 404
    listing = other.get(reverse("console:exports")).content.decode()
    assert url(hoiku) not in listing
    assert exports_recorded() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "pdf"}, "出力形式を選んでください"),
        ({}, "出力形式を選んでください"),
        ({"format": "csv-utf8", "arrived_from": "令和七年"}, "2025-04-01 の形"),
        ({"format": "csv-utf8", "statuses": "deleted"}, "状態の指定"),
        (
            {"format": "csv-utf8", "arrived_from": "2025-05-01", "arrived_to": "2025-04-01"},
            "後の日付",
        ),
        ({"format": "csv-utf8", "include_specific": "1", "purpose": "x" * 501}, "500文字"),
        ({"format": "csv-utf8", "choices": "<script>alert(1)</script>"}, "選択肢の書き方"),
        ({"format": "csv-utf8", "choices": ["labels", "codes", "x"]}, "選択肢の書き方"),
        ({"format": "csv-utf8", "include_bank": "1"}, "利用目的"),
        ({"format": "csv-utf8", "include_bank": "1", "bank_purpose": "x" * 501}, "500文字"),
        ({"format": "csv-utf8", "include_bank": "1", "bank_purpose": "\u200b" * 20}, "利用目的"),
    ],
)
def test_hostile_input_is_answered_in_japanese_and_exports_nothing(
    admin_client, hoiku, application, data, message
):
    response = admin_client.post(url(hoiku), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "error-summary" in response.content.decode()
    assert exports_recorded() == 0


def test_full_width_dates_are_understood(staff_client, hoiku, application):
    response = staff_client.post(
        url(hoiku), {"format": "csv-utf8", "arrived_from": "２０２０－０１－０１"}
    )
    assert response.status_code == 200
    assert len(records(body(response), "utf-8-sig")) == 1


@pytest.mark.parametrize("procedure_id", [0, 2**31, 2**63, 10**30])
def test_made_up_procedure_ids_are_404(staff_client, hoiku, procedure_id):
    address = reverse("console:export", args=[1]).replace("/1/", f"/{procedure_id}/")
    assert staff_client.get(address).status_code == 404
    assert staff_client.post(address, {"format": "csv-utf8"}).status_code == 404


@pytest.mark.parametrize("value", ["<script>", "0" * 5000, "\x00", "false"])
def test_any_drop_empty_value_is_a_plain_yes_or_no_never_a_failure(
    staff_client, hoiku, application, value
):
    response = staff_client.post(url(hoiku), {"format": "csv-utf8", "drop_empty": value})

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"), newline="")))
    event = AuditEvent.objects.get(action="application.export")
    assert event.detail["drop_empty"] is (value != "false")
    assert (len(rows[0]) < event.detail["columns"] + event.detail["columns_left_out"]) is (
        value != "false"
    )
