"""The console's upload of counts done in other systems (issue 12): an organisation admin
imports their own organisation's counts; bad files are refused row by row; nothing is half
imported; another organisation's import is not found."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.models import Staff
from madoguchi.stats.imports import MAX_FILE_BYTES, counts_import
from madoguchi.stats.models import CountImport, ImportedCount
from madoguchi.testing import counts_csv, counts_xlsx

pytestmark = pytest.mark.django_db

UPLOAD = reverse("console:stats_import_upload")
INDEX = reverse("console:stats_imports")


def stored() -> list[tuple[str, str, int, int, int, int]]:
    return sorted(
        ImportedCount.objects.values_list(
            "organisation__lg_code", "category_code", "fiscal_year", "month", "total", "online"
        )
    )


def state() -> tuple[Any, ...]:
    return (
        stored(),
        CountImport.objects.count(),
        AuditEvent.objects.filter(action="stats.counts_imported").count(),
    )


def upload(client: Client, content: bytes, name: str = "件数.csv") -> Any:
    return client.post(UPLOAD, {"counts_file": SimpleUploadedFile(name, content)})


def test_an_admin_imports_their_own_counts_and_sees_each_row(
    admin_client: Client, admin_staff: Staff
):
    response = upload(
        admin_client,
        counts_csv(
            ("141003", "令和5年度", "", "地方税申告手続(eLTAX)", "120,000", "90,000"),
            ("14100", "2024", "2024年5月", "library-reservation", "4200", "3900"),
            encoding="cp932",
        ),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "件数.csv（CSV・Shift_JIS）から 2 行を取り込みました（1 団体）" in page
    assert "120,000" in page
    assert "75.0%" in page
    assert "92.9%" in page
    assert stored() == [
        ("141003", "eltax-filing", 2023, 0, 120000, 90000),
        ("141003", "library-reservation", 2024, 5, 4200, 3900),
    ]
    batch = CountImport.objects.get()
    assert batch.organisation == admin_staff.organisation
    assert batch.imported_by == admin_staff.user
    # The history and the counts in force are on the page, and the import's own page opens.
    page = admin_client.get(INDEX).content.decode()
    assert "件数.csv" in page
    assert "管理 太郎" in page
    assert "地方税申告手続（eLTAX）" in page
    detail = admin_client.get(reverse("console:stats_import", args=[batch.pk]))
    assert detail.status_code == 200
    assert "2行（取り込み済みの 0 行を置き換え）" in detail.content.decode()


def test_a_second_import_reports_the_rows_it_replaced(admin_client: Client):
    content = counts_csv(("141003", "2024", "", "eltax-filing", "10", "5"))
    upload(admin_client, content)
    response = upload(admin_client, counts_csv(("141003", "2024", "", "eltax-filing", "12", "6")))
    assert "取り込み済みの 1 行を置き換えました" in response.content.decode()
    assert "取り込み済みの件数を置き換えました" in response.content.decode()
    assert stored() == [("141003", "eltax-filing", 2024, 0, 12, 6)]


def test_the_template_is_a_utf8_csv_with_bom_and_the_headers(admin_client: Client):
    response = admin_client.get(reverse("console:stats_import_template"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert (
        response.content
        == "\ufeff団体コード,団体名,年度,月,手続,総件数,オンライン件数\r\n".encode()
    )
    # The page documents every column.
    page = admin_client.get(INDEX).content.decode()
    for column in ("団体コード", "団体名", "年度", "月", "手続", "総件数", "オンライン件数"):
        assert f'<th scope="row">{column}</th>' in page


def test_only_admins_import(staff_client: Client):
    assert staff_client.get(INDEX).status_code == 403
    response = upload(staff_client, counts_csv(("141003", "2024", "", "eltax-filing", "1", "1")))
    assert response.status_code == 403
    anonymous = upload(Client(), counts_csv(("141003", "2024", "", "eltax-filing", "1", "1")))
    assert anonymous.status_code == 302
    assert stored() == []


def test_another_organisations_import_answers_404(admin_client: Client, other_admin: Staff):
    report = counts_import(
        content=counts_csv(("142042", "2024", "", "eltax-filing", "1", "1")),
        file_name="kamakura.csv",
        scope_organisation=other_admin.organisation,
        actor=other_admin.user,
        now=now(),
    )
    assert (
        admin_client.get(reverse("console:stats_import", args=[report.batch_id])).status_code == 404
    )
    assert "kamakura.csv" not in admin_client.get(INDEX).content.decode()


GOOD = ("141003", "2024", "", "library-reservation", "100", "50")

BAD = [
    (
        "another organisation",
        counts_csv(GOOD, ("142042", "2024", "", "eltax-filing", "1", "1")),
        "横浜市（141003）の件数だけを取り込めます。鎌倉市（142042）の行は取り込めません",
    ),
    (
        "unknown code",
        counts_csv(GOOD, ("999997", "2024", "", "eltax-filing", "1", "1")),
        "団体コード 999997 の団体は見つかりません",
    ),
    (
        "unknown category",
        counts_csv(GOOD, ("141003", "2024", "", "住民票の写し", "1", "1")),
        "国の手続分類にない手続です",
    ),
    (
        "month outside the fiscal year",
        counts_csv(GOOD, ("141003", "2024", "2025-04", "eltax-filing", "1", "1")),
        "2025年4月は2025年度の月です",
    ),
    (
        "negative",
        counts_csv(GOOD, ("141003", "2024", "", "eltax-filing", "-3", "0")),
        "件数に負の数は使えません",
    ),
    (
        "non-numeric",
        counts_csv(GOOD, ("141003", "2024", "", "eltax-filing", "abc", "0")),
        "件数は数字で書いてください",
    ),
    (
        "online greater than total",
        counts_csv(GOOD, ("141003", "2024", "", "eltax-filing", "1", "2")),
        "オンライン件数（2）が総件数（1）より",
    ),
    ("duplicate rows", counts_csv(GOOD, GOOD), "2行目と同じ件数"),
    (
        "formula in a csv",
        counts_csv(GOOD, ("141003", "2024", "", "eltax-filing", "=1+1", "0")),
        "数式",
    ),
    (
        "formula in an xlsx",
        counts_xlsx((141003, 2024, None, "eltax-filing", "=SUM(1,2)", 0)),
        "数式のセルは取り込めません",
    ),
    (
        "mixed encodings",
        counts_csv(("141003", "令和6年度", "", "図書館の図書貸出予約等", "1", "1"))
        + "141003,令和5年度,,図書館の図書貸出予約等,1,1\r\n".encode("cp932"),
        "文字コードが混在しています",
    ),
    (
        "missing header",
        counts_csv(GOOD, header=("団体コード", "年度", "月", "手続", "総件数", "オンライン")),
        "必須の見出しがありません: オンライン件数",
    ),
    ("empty file", b"", "ファイルが空です"),
]


@pytest.mark.parametrize(("case", "content", "reason"), BAD, ids=[case for case, _, _ in BAD])
def test_bad_files_are_refused_with_reasons_and_nothing_changes(
    admin_client: Client, case: str, content: bytes, reason: str
):
    upload(admin_client, counts_csv(("141003", "2023", "", "eltax-filing", "100", "40")))
    before = state()
    response = upload(
        admin_client, content, name="bad.xlsx" if content.startswith(b"PK") else "bad.csv"
    )
    assert response.status_code == 400, case
    page = response.content.decode()
    assert reason in page, case
    assert "何も取り込んでいません" in page or "ファイルが空です" in page
    assert state() == before


def test_values_from_the_file_are_escaped_on_the_page(admin_client: Client):
    response = upload(
        admin_client, counts_csv(("141003", "2024", "", "<script>alert(1)</script>", "1", "1"))
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


class _Endless(io.RawIOBase):
    """A request body of ``size`` bytes that is made up as it is read, counting the reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.served)
        buffer[:n] = b"a" * n
        self.served += n
        return n


def test_a_100_mb_upload_is_refused_without_reading_it(admin_client: Client):
    before = state()
    body = _Endless(100 * 1024 * 1024)
    environ: dict[str, Any] = {"wsgi.input": body, "CONTENT_LENGTH": str(body.size)}
    response = admin_client.generic(
        "POST", UPLOAD, b"", content_type="multipart/form-data; boundary=xYzZy", **environ
    )
    assert response.status_code == 413
    assert "ファイルが大きすぎます（10 MB まで）" in response.content.decode()
    assert body.served == 0
    assert state() == before


def test_a_file_just_over_the_limit_is_cut_off_while_it_is_read(admin_client: Client):
    before = state()
    content = counts_csv(GOOD) + b"#" * MAX_FILE_BYTES
    response = upload(admin_client, content)
    assert response.status_code == 413
    assert "ファイルが大きすぎます（10 MB まで）" in response.content.decode()
    assert state() == before


def test_the_upload_checks_csrf_once_the_size_is_known(admin_staff: Staff):
    from madoguchi.testing import console_login

    browser = console_login(Client(enforce_csrf_checks=True), admin_staff.user)
    content = counts_csv(("141003", "2024", "", "eltax-filing", "3", "1"))
    refused = browser.post(UPLOAD, {"counts_file": SimpleUploadedFile("a.csv", content)})
    assert refused.status_code == 403
    assert stored() == []
    browser.get(INDEX)
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        UPLOAD,
        {"counts_file": SimpleUploadedFile("a.csv", content), "csrfmiddlewaretoken": token},
    )
    assert accepted.status_code == 200
    assert stored() == [("141003", "eltax-filing", 2024, 0, 3, 1)]
