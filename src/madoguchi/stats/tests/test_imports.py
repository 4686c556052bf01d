"""Importing counts done in other systems (issue 12, item 2 and "Bad input"): the service."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.stats.figures import rate
from madoguchi.stats.imports import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    ImportRejected,
    counts_import,
    shown,
    template_csv,
)
from madoguchi.stats.models import CountImport, CountImportOrganisation, ImportedCount
from madoguchi.tenants.models import Organisation
from madoguchi.testing import COUNT_HEADER, counts_csv, counts_xlsx

pytestmark = pytest.mark.django_db

#: 2026-06-15 in Tokyo: fiscal year 2026 has begun; months up to 2026-06 have come.
NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)


def run(content: bytes, *, scope: Organisation | None = None, name: str = "counts.csv") -> Any:
    return counts_import(
        content=content, file_name=name, scope_organisation=scope, actor=None, now=NOW
    )


def stored() -> list[tuple[str, str, int, int, int, int]]:
    return sorted(
        ImportedCount.objects.values_list(
            "organisation__lg_code", "category_code", "fiscal_year", "month", "total", "online"
        )
    )


def rejected(content: bytes, **kwargs: Any) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        run(content, **kwargs)
    return caught.value


def reasons(error: ImportRejected) -> str:
    return "\n".join(problem.line() for problem in error.problems)


# --- Accepted files ---------------------------------------------------------------------------


def test_a_csv_is_stored_with_one_import_record_and_an_audit_event_per_organisation():
    content = counts_csv(
        ("141003", "2024", "", "eltax-filing", "120000", "90000"),
        ("142042", "2024", "", "library-reservation", "50,000", "41,000"),
        ("142042", "2025", "5", "library-reservation", "4200", "3900"),
    )
    report = run(content)
    assert stored() == [
        ("141003", "eltax-filing", 2024, 0, 120000, 90000),
        ("142042", "library-reservation", 2024, 0, 50000, 41000),
        ("142042", "library-reservation", 2025, 5, 4200, 3900),
    ]
    assert len(report.rows) == 3
    assert report.replaced == 0
    assert report.organisations == 2
    assert report.rows[0].rate == Decimal("75.0")
    assert "3 行を取り込みました" in report.summary()
    batch = CountImport.objects.get()
    assert (batch.rows, batch.encoding, batch.organisation) == (3, "UTF-8", None)
    assert sorted(CountImportOrganisation.objects.values_list("organisation__lg_code", "rows")) == [
        ("141003", 1),
        ("142042", 2),
    ]
    events = AuditEvent.objects.filter(action="stats.counts_imported")
    assert sorted(events.values_list("organisation__lg_code", flat=True)) == ["141003", "142042"]
    assert all(event.target_id == str(batch.pk) for event in events)


def test_the_japanese_ways_of_writing_codes_years_months_and_numbers_are_read():
    content = counts_csv(
        # 5-digit code (check digit computed), 和暦 fiscal years, 全角 digits, separators.
        ("14100", "令和6年度", "", "地方税申告手続(eLTAX)", "１２０，０００", "９００００"),
        ("１４２０４２", "R6", "2025年3月", "library-reservation", "1,234件", "1,000"),
        ("142042", "令和7", "令和7年5月", "図書館の図書貸出予約等", "10", "0"),
        ("142042", "平成30年度", "", "facility-reservation", "7", "7"),
        ("142042", "令和元年度", "2019-04", "facility-reservation", "3", "1"),
        ("142042", "2025年度", "2026/1", "event-application", "0", "0"),
    )
    run(content)
    assert stored() == [
        ("141003", "eltax-filing", 2024, 0, 120000, 90000),
        ("142042", "event-application", 2025, 1, 0, 0),
        ("142042", "facility-reservation", 2018, 0, 7, 7),
        ("142042", "facility-reservation", 2019, 4, 3, 1),
        ("142042", "library-reservation", 2024, 3, 1234, 1000),
        ("142042", "library-reservation", 2025, 5, 10, 0),
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_utf8_with_bom_and_shift_jis_are_detected(encoding: str):
    content = counts_csv(
        ("141003", "令和6年度", "", "図書館の図書貸出予約等", "10", "5"), encoding=encoding
    )
    report = run(content)
    assert stored() == [("141003", "library-reservation", 2024, 0, 10, 5)]
    assert report.file_format == (
        "CSV・UTF-8（BOM付き）" if encoding == "utf-8-sig" else "CSV・Shift_JIS"
    )


def test_an_xlsx_is_read_from_the_sheet_named_kensu_with_numbers_and_dates_as_cells():
    content = counts_xlsx(
        (141003, 2024, None, "eltax-filing", 120000, 90000),
        (142042, "令和7年度", datetime(2025, 5, 1), "library-reservation", 4200.0, 3900),
        first_sheet="説明",
    )
    report = run(content, name="件数.xlsx")
    assert stored() == [
        ("141003", "eltax-filing", 2024, 0, 120000, 90000),
        ("142042", "library-reservation", 2025, 5, 4200, 3900),
    ]
    assert report.file_format == "xlsx・シート「件数」"


def test_an_optional_organisation_name_column_is_checked_against_the_code():
    header = ("団体コード", "団体名", "年度", "手続", "総件数", "オンライン件数")
    run(counts_csv(("141003", "神奈川県横浜市", "2024", "eltax-filing", "3", "1"), header=header))
    error = rejected(
        counts_csv(("141003", "鎌倉市", "2024", "eltax-filing", "3", "1"), header=header)
    )
    assert "団体コード 141003 は横浜市です" in reasons(error)


def test_a_later_import_replaces_the_same_rows_and_says_how_many():
    run(counts_csv(("141003", "2024", "", "eltax-filing", "100", "50")))
    report = run(
        counts_csv(
            ("141003", "2024", "", "eltax-filing", "120", "90"),
            ("141003", "2024", "", "library-reservation", "10", "9"),
        )
    )
    assert report.replaced == 1
    assert [row.replaced for row in report.rows] == [True, False]
    assert stored() == [
        ("141003", "eltax-filing", 2024, 0, 120, 90),
        ("141003", "library-reservation", 2024, 0, 10, 9),
    ]
    assert CountImport.objects.count() == 2


def test_a_year_total_replaces_the_stored_months_of_that_year():
    run(
        counts_csv(
            ("141003", "2024", "4", "eltax-filing", "10", "5"),
            ("141003", "2024", "5", "eltax-filing", "10", "5"),
            ("141003", "2025", "4", "eltax-filing", "1", "1"),
        )
    )
    report = run(counts_csv(("141003", "2024", "", "eltax-filing", "130", "70")))
    assert report.replaced == 2
    assert stored() == [
        ("141003", "eltax-filing", 2024, 0, 130, 70),
        ("141003", "eltax-filing", 2025, 4, 1, 1),
    ]


def test_months_replace_a_stored_year_total_only_when_all_twelve_come():
    run(counts_csv(("141003", "2024", "", "eltax-filing", "130", "70")))
    error = rejected(counts_csv(("141003", "2024", "4", "eltax-filing", "10", "5")))
    assert "年度の合計が取り込み済みです" in reasons(error)
    assert "1か月分" in reasons(error)
    assert stored() == [("141003", "eltax-filing", 2024, 0, 130, 70)]
    months = [
        ("141003", "2024", str(m), "eltax-filing", "10", "5") for m in (*range(4, 13), 1, 2, 3)
    ]
    report = run(counts_csv(*months))
    assert report.replaced == 1
    assert [row[3] for row in stored()] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


def test_an_organisation_admin_imports_only_their_own_organisation(organisation: Organisation):
    report = run(counts_csv(("141003", "2024", "", "eltax-filing", "3", "1")), scope=organisation)
    assert CountImport.objects.get(pk=report.batch_id).organisation == organisation
    error = rejected(
        counts_csv(
            ("141003", "2024", "", "library-reservation", "3", "1"),
            ("142042", "2024", "", "eltax-filing", "3", "1"),
        ),
        scope=organisation,
    )
    assert [p.row for p in error.problems] == [3]
    assert (
        "横浜市（141003）の件数だけを取り込めます。鎌倉市（142042）の行は取り込めません"
        in reasons(error)
    )
    assert stored() == [("141003", "eltax-filing", 2024, 0, 3, 1)]


def test_blank_lines_are_skipped_and_the_template_has_exactly_the_headers():
    run(counts_csv(("141003", "2024", "", "eltax-filing", "3", "1"), ("", "", "", "", "", "")))
    assert len(stored()) == 1
    template = template_csv()
    assert template.startswith(b"\xef\xbb\xbf")
    assert (
        template.decode("utf-8-sig").strip()
        == "団体コード,団体名,年度,月,手続,総件数,オンライン件数"
    )
    with pytest.raises(ImportRejected, match="件数の行がありません"):
        run(template)


# --- Bad input: refused with row-level reasons, nothing stored changes -----------------------

GOOD = ("141003", "2024", "", "library-reservation", "100", "50")


def _padded(*rows: tuple[str, ...]) -> bytes:
    return counts_csv(GOOD, *rows)


BAD_ROWS: list[tuple[str, bytes, int | None, str, str]] = [
    # (case, file, row, column, part of the reason)
    (
        "unknown code",
        _padded(("999997", "2024", "", "eltax-filing", "1", "1")),
        3,
        "団体コード",
        "団体は見つかりません",
    ),
    (
        "bad check digit",
        _padded(("141004", "2024", "", "eltax-filing", "1", "1")),
        3,
        "団体コード",
        "検査数字",
    ),
    (
        "code not digits",
        _padded(("横浜市", "2024", "", "eltax-filing", "1", "1")),
        3,
        "団体コード",
        "数字だけ",
    ),
    (
        "a ward",
        _padded(("141011", "2024", "", "eltax-filing", "1", "1")),
        3,
        "団体コード",
        "横浜市鶴見区は行政区です",
    ),
    (
        "unknown category",
        _padded(("141003", "2024", "", "ふるさと納税", "1", "1")),
        3,
        "手続",
        "国の手続分類にない",
    ),
    ("empty category", _padded(("141003", "2024", "", "", "1", "1")), 3, "手続", "手続"),
    (
        "month outside the fiscal year",
        _padded(("141003", "2024", "2024年3月", "eltax-filing", "1", "1")),
        3,
        "月",
        "2023年度の月です",
    ),
    (
        "wareki month outside",
        _padded(("141003", "令和6年度", "令和7年4月", "eltax-filing", "1", "1")),
        3,
        "月",
        "2025年度の月です",
    ),
    ("month 13", _padded(("141003", "2024", "13", "eltax-filing", "1", "1")), 3, "月", "1〜12"),
    (
        "month in the future",
        _padded(("141003", "2026", "7", "eltax-filing", "1", "1")),
        3,
        "月",
        "まだ来ていません",
    ),
    (
        "fiscal year in the future",
        _padded(("141003", "2027", "", "eltax-filing", "1", "1")),
        3,
        "年度",
        "まだ始まっていません",
    ),
    (
        "heisei 32",
        _padded(("141003", "平成32年度", "", "eltax-filing", "1", "1")),
        3,
        "年度",
        "令和2年度",
    ),
    (
        "year unreadable",
        _padded(("141003", "去年", "", "eltax-filing", "1", "1")),
        3,
        "年度",
        "2024年度",
    ),
    ("negative", _padded(("141003", "2024", "", "eltax-filing", "-5", "0")), 3, "総件数", "負の数"),
    (
        "triangle negative",
        _padded(("141003", "2024", "", "eltax-filing", "▲5", "0")),
        3,
        "総件数",
        "負の数",
    ),
    ("decimal", _padded(("141003", "2024", "", "eltax-filing", "10.5", "1")), 3, "総件数", "小数"),
    (
        "not a number",
        _padded(("141003", "2024", "", "eltax-filing", "十", "1")),
        3,
        "総件数",
        "数字",
    ),
    (
        "circled digit",
        _padded(("141003", "2024", "", "eltax-filing", "⑩", "1")),
        3,
        "総件数",
        "丸数字",
    ),
    (
        "empty count",
        _padded(("141003", "2024", "", "eltax-filing", "10", "")),
        3,
        "オンライン件数",
        "0件なら 0",
    ),
    (
        "bad grouping",
        _padded(("141003", "2024", "", "eltax-filing", "1,00,0", "1")),
        3,
        "総件数",
        "桁区切り",
    ),
    (
        "online greater than total",
        _padded(("141003", "2024", "", "eltax-filing", "10", "11")),
        3,
        "オンライン件数",
        "総件数（10）より",
    ),
    (
        "absurd count",
        _padded(("141003", "2024", "", "eltax-filing", "9" * 20, "1")),
        3,
        "総件数",
        "大きすぎ",
    ),
    (
        "duplicate rows",
        _padded(("141003", "令和6年度", "", "図書館の図書貸出予約等", "5", "5")),
        3,
        "",
        "2行目と同じ件数",
    ),
    (
        "year and months in one file",
        _padded(("141003", "2024", "5", "library-reservation", "5", "5")),
        3,
        "月",
        "二重に数える",
    ),
    (
        "formula =",
        _padded(("141003", "2024", "", "eltax-filing", "=SUM(A1:A9)", "1")),
        3,
        "総件数",
        "数式",
    ),
    (
        "formula +",
        _padded(("141003", "2024", "", "eltax-filing", "+1+1", "1")),
        3,
        "総件数",
        "数式",
    ),
    ("formula @", _padded(("141003", "2024", "", "@SUM(1)", "1", "1")), 3, "手続", "数式"),
    (
        "formula in the code",
        _padded(('=HYPERLINK("http://x")', "2024", "", "eltax-filing", "1", "1")),
        3,
        "団体コード",
        "数式",
    ),
    (
        "control character",
        _padded(("141003", "2024", "", "eltax\x1b[31m", "1", "1")),
        3,
        "手続",
        "制御文字",
    ),
    (
        "extra cell",
        counts_csv(GOOD, ("141003", "2024", "", "eltax-filing", "1", "1", "x")),
        3,
        "7列目",
        "見出しのない列",
    ),
    (
        "missing header",
        counts_csv(
            ("141003", "2024", "eltax-filing", "1", "1"),
            header=("団体コード", "年度", "手続", "総件数", "件数"),
        ),
        1,
        "見出し",
        "オンライン件数",
    ),
    (
        "extra header",
        counts_csv(GOOD, header=(*COUNT_HEADER[:-1], "オンライン件数", "利用率")),
        1,
        "7列目",
        "知らない見出し",
    ),
    (
        "duplicated header",
        counts_csv(
            ("141003", "2024", "", "eltax-filing", "1", "1", "1"), header=(*COUNT_HEADER, "総件数")
        ),
        1,
        "7列目",
        "2回あります",
    ),
    ("empty file", b"", None, "", "空です"),
    ("only a BOM and spaces", b"\xef\xbb\xbf \r\n", None, "", "空です"),
    ("header only", counts_csv(), None, "", "件数の行がありません"),
    ("utf-16", "団体コード,年度\r\n".encode("utf-16"), None, "", "UTF-16"),
    ("old xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, None, "", "xls"),
    ("a png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, None, "", "CSV または Excel"),
    ("broken zip", b"PK\x03\x04" + b"garbage" * 20, None, "", "xlsx"),
    ("binary", b"abc\x00def", None, "", "CSV ではない"),
    (
        "unbalanced quote",
        b'\xe5\x9b\xa3\xe4\xbd\x93\xe3\x82\xb3\xe3\x83\xbc\xe3\x83\x89,x\r\n"141003,2024\r\n',
        2,
        "",
        "引用符",
    ),
    (
        "tab separated",
        "団体コード\t年度\t月\t手続\t総件数\tオンライン件数\r\n141003\t2024\t\teltax-filing\t1\t1\r\n".encode(),
        1,
        "",
        "タブ区切り",
    ),
]


@pytest.mark.parametrize(
    ("case", "content", "row", "column", "reason"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS]
)
def test_bad_input_is_refused_with_a_reason_and_nothing_changes(
    case: str, content: bytes, row: int | None, column: str, reason: str
):
    run(counts_csv(("141003", "2023", "", "eltax-filing", "100", "40")))
    before = (stored(), CountImport.objects.count(), AuditEvent.objects.count())
    error = rejected(content)
    assert error.problems, case
    assert any(
        problem.row == row and problem.column == column and reason in problem.reason
        for problem in error.problems
    ), reasons(error)
    assert "何も取り込んでいません" in error.message
    assert (stored(), CountImport.objects.count(), AuditEvent.objects.count()) == before


def test_every_bad_row_of_a_file_is_reported_not_just_the_first():
    error = rejected(
        counts_csv(
            ("999997", "2024", "", "eltax-filing", "1", "1"),
            GOOD,
            ("141003", "2024", "", "eltax-filing", "-1", "abc"),
        )
    )
    assert [(p.row, p.column) for p in error.problems] == [
        (2, "団体コード"),
        (4, "総件数"),
        (4, "オンライン件数"),
    ]


def test_mixed_encodings_are_refused_naming_the_lines():
    content = (
        counts_csv(("141003", "令和6年度", "", "図書館の図書貸出予約等", "1", "1"))
        + counts_csv(
            ("141003", "令和5年度", "", "図書館の図書貸出予約等", "1", "1"), encoding="cp932"
        ).split(b"\r\n", 1)[1]
    )
    error = rejected(content)
    assert "文字コードが混在しています" in reasons(error)
    assert "1・2行目は UTF-8、3行目は Shift_JIS" in reasons(error)
    bom = b"\xef\xbb\xbf" + content
    assert "UTF-8（BOM付き）のファイルですが、3行目" in reasons(rejected(bom))
    assert stored() == []


def test_neither_utf8_nor_shift_jis_is_refused():
    content = b"abc,\xfd\xfd\r\n141003,2024,,\xfd,1,1\r\n"
    assert "UTF-8 でも Shift_JIS でも読めません" in reasons(rejected(content))


def test_an_euc_jp_file_is_refused_as_garbled():
    # Lines that cp932 cannot read: named as neither encoding.
    content = counts_csv(
        ("141003", "令和6年度", "", "図書館の図書貸出予約等", "1", "1"), encoding="euc_jp"
    )
    assert "UTF-8 でも Shift_JIS でも読めません" in reasons(rejected(content))
    # Lines that cp932 reads as half-width kana (団体コード, 年度 in EUC-JP): said to be garbled.
    header = "団体コード,年度\r\n".encode("euc_jp")
    error = rejected(header + b"141003,2024\r\n")
    assert "EUC-JP など" in reasons(error)


def test_a_formula_cell_in_an_xlsx_is_refused_and_not_evaluated():
    content = counts_xlsx((141003, 2024, None, "eltax-filing", "=100+20", 90))
    error = rejected(content, name="counts.xlsx")
    assert [(p.row, p.column, p.value) for p in error.problems] == [(2, "総件数", "=100+20")]
    assert "数式のセルは取り込めません" in error.problems[0].reason
    assert stored() == []


def test_xlsx_bad_cells_are_refused_per_row():
    content = counts_xlsx(
        (141003, 2024, None, "eltax-filing", 10.5, 1),
        (141003, 2024, 5, "library-reservation", -3, 0),
    )
    lines = reasons(rejected(content))
    assert "2行目・総件数「10.5」: 件数は整数で書いてください" in lines
    assert "3行目・総件数「-3」: 件数に負の数は使えません" in lines


def test_an_inactive_organisation_is_refused():
    merged = Organisation.objects.get(lg_code="142051")
    merged.active = False
    merged.save(update_fields=["active"])
    error = rejected(_padded(("142051", "2024", "", "eltax-filing", "1", "1")))
    assert "無効になった団体" in reasons(error)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    content = counts_csv(GOOD) + b"#" * MAX_FILE_BYTES
    error = rejected(content)
    assert "大きすぎます（10 MB まで）" in reasons(error)


def test_too_many_rows_are_refused():
    row = b"141003,2024,,eltax-filing,1,1\r\n"
    content = counts_csv() + row * (MAX_ROWS + 1)
    assert len(content) < MAX_FILE_BYTES
    assert "行が多すぎます" in reasons(rejected(content))


def test_values_are_shown_safely():
    assert shown("a\x1b[31mb\u202e") == "a<U+001B>[31mb<U+202E>"
    assert shown("x" * 100) == "x" * 40 + "…"
    error = rejected(_padded(("141003", "2024", "", "eltax-filing", "1\u202e2", "1")))
    assert error.problems[0].value == "1<U+202E>2"


def test_a_long_list_of_problems_is_cut_and_counted():
    rows = [("999997", "2024", "", "eltax-filing", "1", "1")] * 1200
    error = rejected(counts_csv(*rows))
    assert len(error.problems) == 1000
    assert error.more == 200


# --- Done when: a municipality's published counts give its published rates ---------------


def test_kure_citys_published_counts_come_out_to_its_published_rates():
    """呉市 (342025), 令和4年度, 「呉市行政手続等における情報通信の技術の利用に関する条例に基づく
    公表」 https://www.city.kure.lg.jp/soshiki/36/onlinekouhyou.html — the rows of the table
    (手続の名称, 手続総件数, うちオンライン数, 割合(%)) whose national category exists, as the
    city names them (the event row's name differs from the national list's, so it is filed
    under its code, as a city would map it)."""
    published = [
        ("図書館の図書貸出予約等", "196,759", "152,983", Decimal("77.8")),
        ("文化・スポーツ施設等の利用予約等", "17,578", "3,793", Decimal("21.6")),
        ("event-application", "175", "0", Decimal("0.0")),
        ("地方税申告手続(eLTAX)", "132,564", "81,635", Decimal("61.6")),
    ]
    content = counts_csv(
        *[("342025", "令和4年度", "", name, total, online) for name, total, online, _ in published],
        encoding="cp932",
    )
    report = run(content, name="呉市_令和4年度.csv")
    assert len(report.rows) == 4
    counts = {
        row.category_code: row
        for row in ImportedCount.objects.filter(organisation__lg_code="342025", fiscal_year=2022)
    }
    codes = ["library-reservation", "facility-reservation", "event-application", "eltax-filing"]
    for code, (_, _, _, published_rate) in zip(codes, published, strict=True):
        count = counts[code]
        assert rate(total=count.total, online=count.online) == published_rate, code


def test_an_xlsx_that_unpacks_to_a_huge_size_is_refused_before_it_is_opened():
    import io
    import zipfile

    buffer = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(201):
            member.write(chunk)
    content = buffer.getvalue()
    assert len(content) < MAX_FILE_BYTES
    assert "展開すると大きすぎる" in reasons(rejected(content, name="bomb.xlsx"))


def test_an_empty_sheet_and_a_workbook_without_the_headers_are_refused():
    import io

    import openpyxl

    book = openpyxl.Workbook()
    out = io.BytesIO()
    book.save(out)
    assert "シートが空です" in reasons(rejected(out.getvalue(), name="empty.xlsx"))
    content = counts_xlsx(
        (141003, 2024, None, "eltax-filing", 1, 1),
        header=("コード", "年", "月", "手続", "総数", "オンライン"),
    )
    assert "必須の見出しがありません" in reasons(rejected(content, name="x.xlsx"))
